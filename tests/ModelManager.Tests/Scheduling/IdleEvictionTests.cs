namespace ModelManager.Tests;

public sealed class IdleEvictionTests
{
    [Fact]
    public async Task IdleModel_IsUnloadedAfterMaxIdleTime_MeasuredOnTheTimeProvider()
    {
        var time = new FakeTimeProvider();
        var (m, backend) = FromJson(Config(100, Fake("short", 10, idle: 60), Fake("never", 10, idle: 0)), time);
        await m.LoadModelAsync("short");
        await m.LoadModelAsync("never");

        time.Advance(TimeSpan.FromSeconds(45));
        Assert.Equal(ModelState.Ready, m.GetModelStats()["short"].State);

        var evicted = Next(m, ModelEventKind.Evicted, "short");
        time.Advance(TimeSpan.FromSeconds(30));
        var e = await evicted;

        Assert.Equal(UnloadReason.Idle, e.Reason);
        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["short"].State);
        time.Advance(TimeSpan.FromDays(1));
        Assert.Equal(ModelState.Ready, m.GetModelStats()["never"].State);
        Assert.Equal(1, backend.LiveInstances);
    }

    [Fact]
    public async Task UseResetsTheIdleClock()
    {
        var time = new FakeTimeProvider();
        var (m, _) = FromJson(Config(100, Fake("a", 10, idle: 60)), time);
        var model = m.GetModel("a");
        await model.GenerateAsync("x");
        for (var i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromSeconds(40));
            await model.GenerateAsync("keep me warm");
        }

        Assert.Equal(ModelState.Ready, m.GetModelStats()["a"].State);
        Assert.Equal(0, m.GetModelStats()["a"].EvictionCount);
    }

    [Fact]
    public async Task EmbeddingCalls_ResetTheIdleClock_AndAnIdleEmbeddingModelUnloads()
    {
        var time = new FakeTimeProvider();
        var (m, backend) = FromJson(Config(100, Fake("embed", 10, idle: 60, extra: "\"capabilities\": [\"embeddings\"]")), time);
        var generator = m.GetEmbeddingGenerator("embed");
        await generator.GenerateAsync(["x"]);
        for (var i = 0; i < 5; i++)
        {
            time.Advance(TimeSpan.FromSeconds(40));
            await generator.GenerateAsync(["keep me warm"]);
        }

        Assert.Equal(ModelState.Ready, m.GetModelStats()["embed"].State);
        var evicted = Next(m, ModelEventKind.Evicted, "embed");
        time.Advance(TimeSpan.FromSeconds(75));
        Assert.Equal(UnloadReason.Idle, (await evicted).Reason);
        Assert.Equal(0, backend.LiveInstances);
        Assert.Equal(2, (await generator.GenerateAsync(["it", "reloads"])).Count);
        Assert.Equal(2, m.GetModelStats()["embed"].LoadCount);
    }

    [Fact]
    public async Task LeasedModel_IsNotUnloadedWhileIdleTimePasses()
    {
        var time = new FakeTimeProvider();
        var (m, _) = FromJson(Config(100, Fake("a", 10, idle: 10)), time);
        var lease = await m.AcquireAsync("a");
        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(ModelState.Ready, m.GetModelStats()["a"].State);

        lease.Dispose();
        var evicted = Next(m, ModelEventKind.Evicted, "a");
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(UnloadReason.Idle, (await evicted).Reason);
    }

    [Fact]
    public async Task EvictedModel_ReloadsTransparentlyThroughItsHandle()
    {
        var time = new FakeTimeProvider();
        var (m, backend) = FromJson(Config(100, Fake("a", 10, idle: 10)), time);
        var handle = m.GetModel("a");
        var first = await handle.GenerateAsync("same prompt");
        var evicted = Next(m, ModelEventKind.Evicted, "a");
        time.Advance(TimeSpan.FromSeconds(20));
        await evicted;

        var second = await handle.GenerateAsync("same prompt");

        Assert.Equal(first, second);
        Assert.Equal(2, backend.Loads);
        Assert.Equal(2, m.GetModelStats()["a"].LoadCount);
    }

    [Fact]
    public async Task IdleUnload_AfterABurstOfCalls_ComesNoEarlierThanMaxIdleTime_AndAtMostAClockPeriodLater()
    {
        var time = new FakeTimeProvider();
        var (m, _) = FromJson(Config(100, Fake("a", 10, idle: 4)), time);
        var model = m.GetModel("a");
        await m.LoadModelAsync("a");

        // Calls 30 ms apart: after the first, their last-access stamps come from the coarse clock and lag the calls.
        for (var i = 0; i < 10; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(30));
            await model.GenerateAsync("x");
        }

        var lastUse = time.GetUtcNow();
        var evicted = Next(m, ModelEventKind.Evicted, "a");
        var step = TimeSpan.FromMilliseconds(5);
        while (m.GetModelStats()["a"].State == ModelState.Ready)
        {
            Assert.True(time.GetUtcNow() - lastUse < TimeSpan.FromSeconds(10), "the idle model was never unloaded");
            time.Advance(step);
        }

        var idleFor = time.GetUtcNow() - lastUse;
        Assert.InRange(idleFor, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(4) + CoarseClock.Period + step);
        Assert.Equal(UnloadReason.Idle, (await evicted).Reason);
    }

    [Fact]
    public async Task IdleUnload_OfASingleCall_ComesNoEarlierThanMaxIdleTime_AndAtMostAClockPeriodLater()
    {
        var time = new FakeTimeProvider();
        var (m, _) = FromJson(Config(100, Fake("a", 10, idle: 1.5)), time);
        await m.GetModel("a").GenerateAsync("x");
        var lastUse = time.GetUtcNow();

        time.Advance(TimeSpan.FromSeconds(1.5) - TimeSpan.FromTicks(1));
        Assert.Equal(ModelState.Ready, m.GetModelStats()["a"].State);
        time.Advance(CoarseClock.Period + TimeSpan.FromTicks(1));

        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["a"].State);
        Assert.Equal(1, m.GetModelStats()["a"].EvictionCount);
        Assert.True(time.GetUtcNow() - lastUse <= TimeSpan.FromSeconds(1.5) + CoarseClock.Period);
    }
}
