namespace ModelManager.Tests;

public sealed class EventTests
{
    [Fact]
    public async Task ThrowingCallbacks_AreIgnored_AndTheRestStillRun()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10)));
        var seen = new List<string>();
        m.RegisterCallback(ModelEventKind.Loaded, _ => throw new InvalidOperationException("bad callback"));
        m.ModelEvent += (_, _) => throw new InvalidOperationException("bad handler");
        m.RegisterCallback(ModelEventKind.Loaded, n => seen.Add("loaded " + n));
        m.RegisterCallback(ModelEventKind.Unloaded, n => seen.Add("unloaded " + n));

        await m.LoadModelAsync("a");
        Assert.Equal("the model works", (await m.GetModel("a").GenerateAsync("x")).Length > 0 ? "the model works" : "");
        await m.UnloadModelAsync("a");

        Assert.Equal(["loaded a", "unloaded a"], seen);
    }

    [Fact]
    public async Task DisposedRegistration_StopsTheCallback()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10)));
        var count = 0;
        var registration = m.RegisterCallback(ModelEventKind.Loaded, _ => count++);
        await m.LoadModelAsync("a");
        registration.Dispose();
        registration.Dispose();
        await m.UnloadModelAsync("a");
        await m.LoadModelAsync("a");
        Assert.Equal(1, count);
    }

    [Fact]
    public async Task LoadFailed_CarriesTheException()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10, parameters: "\"fail_load\": true")));
        var failed = Next(m, ModelEventKind.LoadFailed, "a");
        await Assert.ThrowsAsync<ModelLoadException>(() => m.LoadModelAsync("a"));
        Assert.IsType<ModelLoadException>((await failed).Exception);
    }

    [Fact]
    public async Task LoadProgress_ReachesOne()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10)));
        var progress = new List<double>();
        m.LoadProgress += (_, p) => { lock (progress) { progress.Add(p.Progress); } };
        await m.LoadModelAsync("a");
        lock (progress)
        {
            Assert.Equal(1.0, progress[^1]);
        }
    }
}
