namespace ModelManager.Tests;

public sealed class EvictionTests
{
    [Fact]
    public async Task Load_OverBudget_EvictsLeastImportantIdleModelFirst()
    {
        var (m, backend) = FromJson(Config(100, Fake("keep", 40, priority: 1), Fake("drop", 40, priority: 5), Fake("new", 40, priority: 3)));
        await m.LoadModelAsync("keep");
        await m.LoadModelAsync("drop");
        var evicted = Next(m, ModelEventKind.Evicted, "drop");

        await m.LoadModelAsync("new");

        var e = await evicted;
        Assert.Equal(UnloadReason.Capacity, e.Reason);
        Assert.Equal(40 * Mb, e.Bytes);
        var stats = m.GetModelStats();
        Assert.Equal(ModelState.Ready, stats["keep"].State);
        Assert.Equal(ModelState.Unloaded, stats["drop"].State);
        Assert.Equal(ModelState.Ready, stats["new"].State);
        Assert.Equal(1, stats["drop"].EvictionCount);
        Assert.Equal(80 * Mb, m.GetMemoryUsage().TotalBytes);
        Assert.Equal(2, backend.LiveInstances);
    }

    [Fact]
    public async Task Load_SamePriority_EvictsLeastRecentlyUsed()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var (m, _) = FromJson(Config(100, Fake("a", 40), Fake("b", 40), Fake("c", 40)), time);
        await m.LoadModelAsync("a");
        time.Advance(TimeSpan.FromSeconds(1));
        await m.LoadModelAsync("b");
        time.Advance(TimeSpan.FromSeconds(1));
        await m.GetModel("a").GenerateAsync("touch a so that b is the least recently used");
        time.Advance(TimeSpan.FromSeconds(1));

        await m.LoadModelAsync("c");

        var stats = m.GetModelStats();
        Assert.Equal(ModelState.Ready, stats["a"].State);
        Assert.Equal(ModelState.Unloaded, stats["b"].State);
        Assert.Equal(ModelState.Ready, stats["c"].State);
    }

    [Fact]
    public async Task Load_SamePriority_EvictsLeastRecentlyUsed_AtTheCoarseClocksResolution()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var (m, _) = FromJson(Config(100, Fake("a", 40), Fake("b", 40), Fake("c", 40)), time);
        await m.LoadModelAsync("b");
        await m.LoadModelAsync("a");

        // b is used last, but only 150 ms after a: more than one clock period, so the stamps still tell them apart.
        await m.GetModel("a").GenerateAsync("a first");
        time.Advance(TimeSpan.FromMilliseconds(150));
        await m.GetModel("b").GenerateAsync("b after it");
        Assert.True(m.GetModelStats()["b"].LastAccessUtc > m.GetModelStats()["a"].LastAccessUtc);

        await m.LoadModelAsync("c");

        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["a"].State);
        Assert.Equal(ModelState.Ready, m.GetModelStats()["b"].State);
    }

    [Fact]
    public async Task Load_SamePriority_UsedWithinOneClockPeriod_EvictsTheLessUsedModel()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var (m, _) = FromJson(Config(100, Fake("a", 40), Fake("b", 40), Fake("c", 40)), time);
        await m.LoadModelAsync("a");
        await m.LoadModelAsync("b");
        time.Advance(CoarseClock.Period); // the clock ticked: calls now share its stamp

        await m.GetModel("a").GenerateAsync("a twice");
        await m.GetModel("a").GenerateAsync("a twice");
        time.Advance(CoarseClock.Period / 2);
        await m.GetModel("b").GenerateAsync("b once, later, within the same tick");
        Assert.Equal(m.GetModelStats()["a"].LastAccessUtc, m.GetModelStats()["b"].LastAccessUtc);

        await m.LoadModelAsync("c");

        // A tie: the model with fewer accesses goes, although it was used last (and its name sorts after the other's).
        Assert.Equal(ModelState.Ready, m.GetModelStats()["a"].State);
        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["b"].State);
    }

    [Fact]
    public async Task Load_NeverEvictsAMoreImportantModel()
    {
        var (m, _) = FromJson(Config(100, Fake("vip", 60, priority: 1), Fake("minor", 60, priority: 4)));
        await m.LoadModelAsync("vip");

        var e = await Assert.ThrowsAsync<ModelMemoryException>(() => m.LoadModelAsync("minor"));

        Assert.Equal(ModelState.Ready, m.GetModelStats()["vip"].State);
        Assert.Equal(60 * Mb, e.RequestedBytes);
        Assert.Equal(100 * Mb, e.LimitBytes);
        Assert.Contains("vip (60.0 MB, Ready, 0 lease(s), priority 1)", e.Message, StringComparison.Ordinal);
        Assert.Contains("budget is 100.0 MB", e.Message, StringComparison.Ordinal);
        Assert.Contains("held by more important models", e.Message, StringComparison.Ordinal);
        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["minor"].State);
        Assert.Equal(60 * Mb, m.GetMemoryUsage().TotalBytes);
    }

    [Fact]
    public async Task Load_LeasedModel_IsNeverEvicted_AndTheLoadWaitsThenFails()
    {
        var (m, _) = FromJson(Config(100, Fake("held", 60, priority: 5), Fake("want", 60, priority: 1)), TimeProvider.System);
        using var lease = await m.AcquireAsync("held");

        var e = await Assert.ThrowsAsync<ModelMemoryException>(() => m.LoadModelAsync("want"));

        Assert.Contains("held (60.0 MB, Ready, 1 lease(s), priority 5)", e.Message, StringComparison.Ordinal);
        Assert.Contains("load_wait_timeout (1 s)", e.Message, StringComparison.Ordinal);
        Assert.Equal(["held (60.0 MB, Ready, 1 lease(s), priority 5)"], e.Holders);
        Assert.Equal(ModelState.Ready, m.GetModelStats()["held"].State);
    }

    [Fact]
    public async Task Load_WaitsForLeaseToDrain_ThenEvictsAndLoads()
    {
        var (m, _) = FromJson(Config(100, Fake("held", 60, priority: 5), Fake("want", 60, priority: 1)).Replace("\"load_wait_timeout\": 1", "\"load_wait_timeout\": 30", StringComparison.Ordinal));
        var lease = await m.AcquireAsync("held");
        var load = m.LoadModelAsync("want");
        await Task.Delay(100);
        Assert.False(load.IsCompleted, "the load must wait while the only victim is leased");

        lease.Dispose();
        await load.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["held"].State);
        Assert.Equal(ModelState.Ready, m.GetModelStats()["want"].State);
    }

    [Fact]
    public async Task Load_LargerThanTheWholeBudget_FailsAtOnce()
    {
        var (m, _) = FromJson(Config(100, Fake("huge", 150)));
        var e = await Assert.ThrowsAsync<ModelMemoryException>(() => m.LoadModelAsync("huge"));
        Assert.Contains("needs more than the whole budget", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, m.GetMemoryUsage().TotalBytes);
    }

    [Fact]
    public async Task SetMemoryLimit_Lowered_EvictsIdleModelsAtOnce_LeastImportantFirst()
    {
        var (m, backend) = FromJson(Config(300, Fake("p1", 50, priority: 1), Fake("p3", 50, priority: 3), Fake("p5", 50, priority: 5)));
        await m.LoadModelAsync("p1");
        await m.LoadModelAsync("p3");
        await m.LoadModelAsync("p5");

        m.SetMemoryLimit(120);

        var stats = m.GetModelStats();
        Assert.Equal(ModelState.Ready, stats["p1"].State);
        Assert.Equal(ModelState.Ready, stats["p3"].State);
        Assert.Equal(ModelState.Unloaded, stats["p5"].State);
        Assert.Equal(100 * Mb, m.GetMemoryUsage().TotalBytes);
        Assert.Equal(120 * Mb, m.GetMemoryUsage().LimitBytes);
        Assert.Equal(2, backend.LiveInstances);

        m.SetMemoryLimit(40);
        Assert.Equal(0, m.GetMemoryUsage().TotalBytes);
        Assert.Equal(0, backend.LiveInstances);
    }

    [Fact]
    public async Task SetMemoryLimit_BelowALeasedModel_EvictsItWhenTheLeaseDrains()
    {
        var (m, backend) = FromJson(Config(300, Fake("busy", 50)));
        var lease = await m.AcquireAsync("busy");
        m.SetMemoryLimit(10);
        Assert.Equal(ModelState.Ready, m.GetModelStats()["busy"].State);

        var evicted = Next(m, ModelEventKind.Evicted, "busy");
        lease.Dispose();

        Assert.Equal(UnloadReason.MemoryLimit, (await evicted).Reason);
        Assert.Equal(0, backend.LiveInstances);
    }

    [Fact]
    public async Task SetMemoryLimitAsync_EndsWhenTheIdleModelsAreGone_LeasedOnesGoWhenTheirLeasesDrain()
    {
        var (m, backend) = FromJson(Config(300, Fake("idle", 50, priority: 1), Fake("busy", 50, priority: 5)));
        await m.LoadModelAsync("idle");
        var lease = await m.AcquireAsync("busy");

        await m.SetMemoryLimitAsync(40);

        var stats = m.GetModelStats();
        Assert.Equal(ModelState.Unloaded, stats["idle"].State);
        Assert.Equal(ModelState.Ready, stats["busy"].State);
        Assert.Equal(40 * Mb, m.GetMemoryUsage().LimitBytes);
        var evicted = Next(m, ModelEventKind.Evicted, "busy");
        await lease.DisposeAsync();
        Assert.Equal(UnloadReason.MemoryLimit, (await evicted).Reason);
        Assert.Equal(0, backend.LiveInstances);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => m.SetMemoryLimitAsync(0));
    }

    [Fact]
    public void SetMemoryLimit_ZeroOrNegative_Throws()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.SetMemoryLimit(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.SetMemoryLimit(-5));
    }
}
