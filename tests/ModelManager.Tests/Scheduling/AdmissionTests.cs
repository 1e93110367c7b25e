using Microsoft.Extensions.AI;

namespace ModelManager.Tests;

/// <summary>Admission control: a model holds at most <c>max_queue</c> calls, and a call gives up after <c>queue_timeout</c> without a first token.</summary>
public sealed class AdmissionTests
{
    [Fact]
    public async Task AFullModel_RefusesTheNextCallAtOnce_AndAdmitsAgainWhenACallEnds()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1, extra: "\"max_queue\": 4", parameters: "\"token_delay_ms\": 50, \"max_tokens\": 4")));
        var model = m.GetModel("a");
        var running = Enumerable.Range(0, 4).Select(_ => model.GenerateAsync("one two")).ToList();
        await WaitUntilAsync(() => m.GetModelStats()["a"].ActiveCalls == 4);

        var busy = await Assert.ThrowsAsync<ModelBusyException>(() => model.GenerateAsync("one two"));
        var chat = await Assert.ThrowsAsync<ModelBusyException>(() => model.AsChatClient().GetResponseAsync("hi"));
        Assert.Equal("a", busy.ModelName);
        Assert.Equal(4, busy.Calls);
        Assert.Equal(4, busy.MaxQueue);
        Assert.Contains("max_queue", busy.Message, StringComparison.Ordinal);
        Assert.Equal("a", chat.ModelName);
        Assert.Equal(2, m.GetModelStats()["a"].BusyCount);

        await Task.WhenAll(running);
        Assert.Equal(0, m.GetModelStats()["a"].ActiveCalls);
        Assert.Equal(FakeModelInstance.Expected("a", "one two", 4), await model.GenerateAsync("one two"));
        Assert.Equal(0, m.GetModelStats()["a"].ActiveLeases);
    }

    [Fact]
    public async Task CallsThatWaitedForTheLoad_AreAdmittedUpToMaxQueue_AndTheRestRefusedHoldingNothing()
    {
        // Every call arrives before the model is Ready, so each is admitted (or refused) on the slow path, after the load.
        var (m, _) = FromJson(Config(100, Fake("a", 1, extra: "\"max_queue\": 2", parameters: "\"load_delay_ms\": 300, \"token_delay_ms\": 200, \"max_tokens\": 10")), TimeProvider.System);
        var model = m.GetModel("a");
        var calls = Enumerable.Range(0, 3).Select(_ => model.GenerateAsync("one two")).ToList();

        var outcomes = await Task.WhenAll(calls.Select(async c =>
        {
            try
            {
                return await c;
            }
            catch (ModelBusyException e)
            {
                return $"busy {e.Calls}/{e.MaxQueue}";
            }
        }));

        Assert.Single(outcomes, o => o == "busy 2/2");
        Assert.Equal(2, outcomes.Count(o => o == FakeModelInstance.Expected("a", "one two", 10)));
        var stats = m.GetModelStats()["a"];
        Assert.Equal(1, stats.BusyCount);
        Assert.Equal(0, stats.ActiveCalls);
        Assert.Equal(0, stats.ActiveLeases);
    }

    [Fact]
    public async Task MaxQueueZero_AdmitsEveryCall()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1, extra: "\"max_queue\": 0", parameters: "\"token_delay_ms\": 20, \"max_tokens\": 2")));
        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => m.GetModel("a").GenerateAsync("x")));

        Assert.All(results, r => Assert.Equal(FakeModelInstance.Expected("a", "x", 2), r));
        Assert.Equal(0, m.GetModelStats()["a"].BusyCount);
    }

    [Fact]
    public async Task ACallWithoutAFirstTokenWithinQueueTimeout_GivesUp_ButOneThatStartedIsNotCut()
    {
        var time = new FakeTimeProvider();
        var (m, _) = FromJson(Config(100, Fake("slow", 1, extra: "\"queue_timeout\": 2", parameters: "\"token_delay_ms\": 400, \"max_tokens\": 3")), time);
        await m.LoadModelAsync("slow");

        var waiting = m.GetModel("slow").GenerateAsync("x");
        await WaitUntilAsync(() => m.GetModelStats()["slow"].ActiveCalls == 1);
        time.Advance(TimeSpan.FromSeconds(3));
        var busy = await Assert.ThrowsAsync<ModelBusyException>(() => waiting);

        Assert.Contains("queue_timeout", busy.Message, StringComparison.Ordinal);
        Assert.Equal(1, m.GetModelStats()["slow"].BusyCount);
        Assert.Equal(0, m.GetModelStats()["slow"].ActiveCalls);

        // Once the first token is out, the timer is off: advancing past it does not cut the call.
        var pieces = new List<string>();
        await foreach (var piece in m.GetModel("slow").GenerateStreamingAsync("x"))
        {
            pieces.Add(piece);
            time.Advance(TimeSpan.FromSeconds(3));
        }

        Assert.Equal(3, pieces.Count);
    }

    [Theory]
    [InlineData("\"max_queue\": -1", "models[0].max_queue")]
    [InlineData("\"queue_timeout\": -5", "models[0].queue_timeout")]
    public void BadValues_AreConfigurationErrorsNamingTheKey(string extra, string path)
    {
        var error = Assert.Throws<ModelConfigurationException>(() => FromJson(Config(100, Fake("a", 1, extra: extra))));

        Assert.Contains(error.Errors, e => e.StartsWith(path, StringComparison.Ordinal));
    }
}
