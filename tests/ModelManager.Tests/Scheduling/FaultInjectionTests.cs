namespace ModelManager.Tests;

/// <summary>Loads that hang, ignore cancellation or succeed slowly, and what the manager does about each.</summary>
public sealed class FaultInjectionTests
{
    private static string WithLoadTimeout(string json, double seconds) =>
        json.Replace("\"load_wait_timeout\": 1", $"\"load_wait_timeout\": 1, \"load_timeout\": {seconds}", StringComparison.Ordinal);

    [Fact]
    public async Task HangingLoad_IsCancelledAtLoadTimeout_AndItsReservationReturned()
    {
        var (m, backend) = FromJson(WithLoadTimeout(Config(100, Fake("hang", 40, parameters: "\"load_delay_ms\": 60000"), Fake("ok", 40)), 0.3), TimeProvider.System);
        var sw = System.Diagnostics.Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<ModelLoadException>(() => m.LoadModelAsync("hang"));

        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        Assert.Contains("did not load within load_timeout", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, m.GetMemoryUsage().TotalBytes);
        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["hang"].State);
        Assert.Equal(1, m.GetModelStats()["hang"].FailureCount);
        await m.LoadModelAsync("ok");
        Assert.Equal(1, backend.LiveInstances);
    }

    [Fact]
    public async Task AFileReadThatBlocks_CountsAgainstLoadTimeout_AndShutdownDoesNotWaitForIt()
    {
        // The estimate reads the model's files first; a read that blocks its thread (a hung disk, 10 s here) must not hang the load.
        var slowDisk = Fake("slow-disk", 10, parameters: "\"estimate_delay_ms\": 10000");
        var (m, backend) = FromJson(WithLoadTimeout(Config(100, slowDisk, Fake("ok", 10)), 0.3), TimeProvider.System);
        var sw = System.Diagnostics.Stopwatch.StartNew();

        var e = await Assert.ThrowsAsync<ModelLoadException>(() => m.LoadModelAsync("slow-disk"));

        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed}: the load waited for the read");
        Assert.Contains("did not load within load_timeout (0.3 s, reading its files included)", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, backend.Loads);
        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["slow-disk"].State);
        await m.LoadModelAsync("ok"); // the rest of the manager is undisturbed

        // With a generous load_timeout, shutdown ends behind a blocked read instead of waiting for it.
        var (patient, _) = FromJson(WithLoadTimeout(Config(100, slowDisk), 600), TimeProvider.System);
        var reading = patient.LoadModelAsync("slow-disk");
        await Task.Delay(100);
        sw.Restart();
        await patient.ShutdownAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"shutdown took {sw.Elapsed.TotalSeconds:F1} s behind a blocked read");
        await Assert.ThrowsAsync<ObjectDisposedException>(() => reading);
        await m.DisposeAsync();
    }

    [Fact]
    public async Task LoadThatIgnoresCancellation_IsAbandoned_AndDisposedWhenItArrives()
    {
        var (m, backend) = FromJson(WithLoadTimeout(Config(100, Fake("stubborn", 10, parameters: "\"load_delay_ms\": 800, \"ignore_cancellation\": true")), 0.2), TimeProvider.System);

        await Assert.ThrowsAsync<ModelLoadException>(() => m.LoadModelAsync("stubborn"));
        Assert.Equal(0, m.GetMemoryUsage().TotalBytes);

        // The backend finishes later; the orphaned instance must not leak.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (backend.Loads == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await Task.Delay(100);
        Assert.Equal(1, backend.Loads);
        Assert.Equal(0, backend.LiveInstances);
        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["stubborn"].State);
    }

    [Fact]
    public async Task Shutdown_WithALoadThatIgnoresCancellation_EndsAtOnce_AndTheLateInstanceIsDisposed()
    {
        var (m, backend) = FromJson(WithLoadTimeout(Config(100, Fake("stuck", 10, parameters: "\"load_delay_ms\": 1500, \"ignore_cancellation\": true")), 600), TimeProvider.System);
        var loading = m.LoadModelAsync("stuck");
        await Task.Delay(100);
        var waiter = m.GetModel("stuck").GenerateAsync("p"); // joins the stuck load

        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await m.ShutdownAsync(grace.Token);
        watch.Stop();

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"shutdown took {watch.Elapsed.TotalSeconds:F1} s behind a stuck load");
        await Assert.ThrowsAsync<ObjectDisposedException>(() => loading);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiter);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (backend.Loads == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
        }

        await Task.Delay(100);
        Assert.Equal(1, backend.Loads);
        Assert.Equal(0, backend.LiveInstances); // the load arrived after shutdown and was disposed
    }

    [Fact]
    public async Task SlowLoad_OthersWaitForIt_AndOtherModelsStayServed()
    {
        var (m, backend) = FromJson(Config(100, Fake("slow", 10, parameters: "\"load_delay_ms\": 3000"), Fake("fast", 10)), TimeProvider.System);
        await m.LoadModelAsync("fast");
        var waiters = Enumerable.Range(0, 8).Select(_ => m.GetModel("slow").GenerateAsync("p")).ToArray();

        // While "slow" loads, the loaded model answers: nothing queues behind another model's load.
        Assert.Equal(FakeModelInstance.Expected("fast", "q", 16), await m.GetModel("fast").GenerateAsync("q"));
        Assert.Equal(ModelState.Loading, m.GetModelStats()["slow"].State);
        Assert.DoesNotContain(waiters, w => w.IsCompleted);

        var results = await Task.WhenAll(waiters);
        Assert.All(results, r => Assert.Equal(FakeModelInstance.Expected("slow", "p", 16), r));
        Assert.Equal(2, backend.Loads);
    }
}
