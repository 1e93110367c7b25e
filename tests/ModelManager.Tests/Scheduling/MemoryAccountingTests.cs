namespace ModelManager.Tests;

public sealed class MemoryAccountingTests
{
    [Fact]
    public async Task Load_ActualAboveEstimate_ChargesTheLarger_AndEvictsToStayWithinLimit()
    {
        var (m, _) = FromJson(Config(100,
            Fake("idle", 30, priority: 5),
            Fake("liar", 20, priority: 3, parameters: "\"actual_size_mb\": 50")));
        await m.LoadModelAsync("idle");

        await m.LoadModelAsync("liar");

        var usage = m.GetMemoryUsage();
        var liar = usage.Models["liar"];
        Assert.Equal(20 * Mb, liar.EstimatedBytes);
        Assert.Equal(50 * Mb, liar.ActualBytes);
        Assert.Equal(50 * Mb, liar.ChargedBytes);
        Assert.Equal(80 * Mb, usage.TotalBytes);

        // A further 30 MB model now needs the idle one gone: the budget counts 50, not 20.
        var (m2, _) = FromJson(Config(100, Fake("liar", 20, parameters: "\"actual_size_mb\": 90"), Fake("other", 30, priority: 5)));
        await m2.LoadModelAsync("other");
        await m2.LoadModelAsync("liar");
        Assert.Equal(ModelState.Unloaded, m2.GetModelStats()["other"].State);
        Assert.True(m2.GetMemoryUsage().TotalBytes <= 100 * Mb);
    }

    [Fact]
    public async Task Load_OverItsEstimate_NeverEvictsItself_AndEvictsIdleModelsToFit()
    {
        // Found by SchedulerPropertyTests: the just-loaded model was its own victim and reloaded forever.
        var (m, _) = FromJson(Config(35, Fake("important", 20, priority: 2), Fake("liar", 15, priority: 3, parameters: "\"actual_size_mb\": 18")));
        await m.LoadModelAsync("important");

        await using var lease = await m.AcquireAsync("liar").WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ModelState.Ready, m.GetModelStats()["liar"].State);
        Assert.Equal(1, m.GetModelStats()["liar"].LoadCount);
        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["important"].State);
        Assert.Equal(18 * Mb, m.GetMemoryUsage().TotalBytes);
    }

    [Fact]
    public async Task Reload_AfterAnOverEstimate_ReservesWhatTheModelReallyUsed()
    {
        var (m, _) = FromJson(Config(17, Fake("liar", 15, parameters: "\"actual_size_mb\": 18")));
        await m.LoadModelAsync("liar"); // over the limit by 1 MB, alone: evicted when idle
        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["liar"].State);

        // One more load on the estimate (the first measurement may have held one-time costs); over the budget again, it is refused for good.
        await m.LoadModelAsync("liar");
        Assert.Equal(2, m.GetModelStats()["liar"].LoadCount);
        var e = await Assert.ThrowsAsync<ModelMemoryException>(() => m.LoadModelAsync("liar"));
        Assert.Equal(18 * Mb, e.RequestedBytes);
        Assert.Contains("needs more than the whole budget", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_AfterAFirstMeasurementOverTheBudget_ThatLaterFits_LoadsAgainAndAgain()
    {
        // As ONNX Runtime's first load in a process: 50 MB measured once (the runtime's start), 3 MB on every later load.
        var (m, _) = FromJson(Config(36, Fake("onnx-like", 3, parameters: "\"first_load_extra_mb\": 47")));
        await m.LoadModelAsync("onnx-like");
        Assert.Equal(50 * Mb, m.GetModelStats()["onnx-like"].ActualBytes);
        await m.UnloadModelAsync("onnx-like");

        for (var i = 0; i < 3; i++)
        {
            await m.LoadModelAsync("onnx-like");
            Assert.Equal(3 * Mb, m.GetModelStats()["onnx-like"].ActualBytes);
            await m.UnloadModelAsync("onnx-like");
        }

        Assert.Equal(4, m.GetModelStats()["onnx-like"].LoadCount);
    }

    [Fact]
    public async Task Load_ActualBelowEstimate_ChargesTheEstimate()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 40, parameters: "\"actual_size_mb\": 10")));
        await m.LoadModelAsync("a");
        var a = m.GetMemoryUsage().Models["a"];
        Assert.Equal(40 * Mb, a.ChargedBytes);
        Assert.Equal(10 * Mb, a.ActualBytes);
        Assert.Equal(40.0, m.GetModelStats()["a"].MemoryUsageMb);
    }
}
