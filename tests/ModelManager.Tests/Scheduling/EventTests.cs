using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

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

    [Fact]
    public async Task ThrowingHandlers_AreLoggedWithTheEventTheyHandled()
    {
        var logs = new FakeLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(logs));
        using var m = new DefaultModelManager(Options(Config(100, Fake("a", 10))), [new FakeModelBackend()], new FakeTimeProvider(), factory);
        m.RegisterCallback(ModelEventKind.Loaded, _ => throw new InvalidOperationException("bad callback"));
        m.LoadProgress += (_, _) => throw new InvalidOperationException("bad progress bar");
        m.ConfigurationReloaded += (_, _) => throw new InvalidOperationException("bad reload handler");

        await m.LoadModelAsync("a");
        Assert.True(m.ApplyConfiguration(Options(Config(90, Fake("a", 10)))));

        var failures = logs.Collector.GetSnapshot().Where(r => r.Id.Id == 1009).Select(r => (r.Message, r.Exception!.Message)).Distinct().ToList();
        Assert.Contains(("A ModelEvent(Loaded) handler for model a threw; ignored", "bad callback"), failures);
        Assert.Contains(("A LoadProgress handler for model a threw; ignored", "bad progress bar"), failures);
        Assert.Contains(("A ConfigurationReloaded handler for model (configuration) threw; ignored", "bad reload handler"), failures);
        Assert.Equal(3, failures.Count);
    }

    [Fact]
    public async Task RegisterCallback_IsAModelEventHandlerFilteredByKind()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10)));
        var order = new List<string>();
        m.ModelEvent += (_, e) => order.Add($"event {e.Kind}");
        using (m.RegisterCallback(ModelEventKind.Unloaded, n => order.Add("callback unloaded " + n)))
        {
            await m.LoadModelAsync("a");
            await m.UnloadModelAsync("a");
        }

        await m.LoadModelAsync("a");

        Assert.Equal(["event Loaded", "event Unloaded", "callback unloaded a", "event Loaded"], order);
    }
}
