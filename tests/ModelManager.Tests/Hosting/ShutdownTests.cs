namespace ModelManager.Tests;

public sealed class ShutdownTests
{
    [Fact]
    public async Task Shutdown_DrainsInFlightCalls_ThenUnloads_AndLateCallsThrow()
    {
        var (m, backend) = FromJson(Config(100, Fake("a", 10, parameters: "\"token_delay_ms\": 5, \"max_tokens\": 100")));
        var running = m.GetModel("a").GenerateAsync("finish me");

        // In flight (holding its lease), not waiting for its load: a call that has no lease yet when shutdown begins is refused.
        await WaitUntilAsync(() => m.GetModelStats()["a"].ActiveLeases == 1 || running.IsCompleted, "the call holding its lease");

        await m.ShutdownAsync();

        Assert.Equal(FakeModelInstance.Expected("a", "finish me", 100), await running);
        Assert.Equal(0, backend.LiveInstances);
        await m.ShutdownAsync(); // a second call is harmless
        await Assert.ThrowsAsync<ObjectDisposedException>(() => m.GetModel("a").GenerateAsync("late"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => m.LoadModelAsync("a"));
        Assert.Throws<ObjectDisposedException>(() => m.SetMemoryLimit(10));
    }

    [Fact]
    public async Task Shutdown_GracePeriodOver_CancelsCalls()
    {
        var (m, backend) = FromJson(Config(100, Fake("a", 10, parameters: "\"token_delay_ms\": 20, \"max_tokens\": 100000")));
        var running = m.GetModel("a").GenerateAsync("never ends");
        await WaitUntilAsync(() => m.GetModelStats()["a"].ActiveLeases == 1, "the call holding its lease");
        using var grace = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await m.ShutdownAsync(grace.Token).WaitAsync(TimeSpan.FromSeconds(10));

        await Assert.ThrowsAsync<ModelUnloadedException>(() => running);
        Assert.Equal(0, backend.LiveInstances);
        Assert.Equal(0, backend.FreedWhileInUseCount);
    }

    [Fact]
    public void SyncLoadAndDispose_OnABlockedSynchronizationContext_DoNotDeadlock()
    {
        var (m, backend) = FromJson(Config(100, Fake("a", 10)), TimeProvider.System);
        Exception? error = null;
        var thread = new Thread(() =>
        {
            // A UI-like context whose only thread is the one blocked below: anything posted to it never runs.
            SynchronizationContext.SetSynchronizationContext(new NeverRunsContext());
            try
            {
                m.LoadModelAsync("a").GetAwaiter().GetResult();
                m.Dispose();
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();

        Assert.True(thread.Join(TimeSpan.FromSeconds(20)), "deadlocked on the caller's synchronization context");
        Assert.Null(error);
        Assert.Equal(1, backend.Loads);
        Assert.Equal(0, backend.LiveInstances);
    }

    private sealed class NeverRunsContext : SynchronizationContext
    {
        public override void Post(SendOrPostCallback d, object? state)
        {
        }
    }

    [Fact]
    public async Task Dispose_UnloadsEverything()
    {
        var (m, backend) = FromJson(Config(100, Fake("a", 10), Fake("b", 10)));
        await m.LoadModelAsync("a");
        await m.LoadModelAsync("b");
        m.Dispose();
        Assert.Equal(0, backend.LiveInstances);
        Assert.Equal(0, m.GetMemoryUsage().TotalBytes);
    }
}
