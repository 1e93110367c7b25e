namespace ModelManager.Tests;

public sealed class UnloadTests
{
    [Fact]
    public async Task Unload_InUse_WaitsForTheLeaseToDrain()
    {
        var (m, backend) = FromJson(Config(100, Fake("a", 10)));
        var lease = await m.AcquireAsync("a");

        var unload = m.UnloadModelAsync("a");
        await Task.Delay(100);
        Assert.False(unload.IsCompleted);
        Assert.Equal(ModelState.Unloading, m.GetModelStats()["a"].State);
        Assert.Equal(1, backend.LiveInstances);

        lease.Dispose();
        Assert.True(await unload.WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, backend.LiveInstances);
        Assert.Equal(0, backend.FreedWhileInUseCount);
    }

    [Fact]
    public async Task ForceUnload_CancelsInFlightCalls_WithModelUnloadedException()
    {
        var (m, backend) = FromJson(Config(100, Fake("slow", 10, parameters: "\"token_delay_ms\": 20, \"max_tokens\": 10000")));
        var model = m.GetModel("slow");
        var started = new SemaphoreSlim(0);
        async Task<Exception?> Stream()
        {
            try
            {
                await foreach (var _ in model.GenerateStreamingAsync("long"))
                {
                    started.Release();
                }

                return null;
            }
            catch (Exception e)
            {
                return e;
            }
        }

        var streams = Enumerable.Range(0, 4).Select(_ => Stream()).ToArray();
        for (var i = 0; i < 4; i++)
        {
            await started.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.True(await m.UnloadModelAsync("slow", force: true).WaitAsync(TimeSpan.FromSeconds(10)));

        var errors = await Task.WhenAll(streams);
        Assert.All(errors, e => Assert.Equal("slow", Assert.IsType<ModelUnloadedException>(e).ModelName));
        Assert.Equal(0, backend.LiveInstances);
        Assert.Equal(0, backend.FreedWhileInUseCount);
        Assert.Equal(0, backend.UseAfterUnloadCount);
        Assert.Equal(0, m.GetModelStats()["slow"].ActiveLeases);
    }

    [Fact]
    public async Task Unload_NotLoaded_ReturnsFalse()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10)));
        Assert.False(await m.UnloadModelAsync("a"));
        await m.LoadModelAsync("a");
        Assert.True(await m.UnloadModelAsync("a"));
        Assert.False(await m.UnloadModelAsync("a"));
    }

    [Fact]
    public async Task Unload_RaisesUnloadedWithTheReason()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10)));
        await m.LoadModelAsync("a");
        var unloaded = Next(m, ModelEventKind.Unloaded, "a");
        await m.UnloadModelAsync("a", force: true);
        var e = await unloaded;
        Assert.Equal(UnloadReason.Forced, e.Reason);
        Assert.Equal(10 * Mb, e.Bytes);
    }

    [Fact]
    public async Task CallerCancellation_IsAnOperationCanceledException_NotAnUnload()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10, parameters: "\"token_delay_ms\": 20, \"max_tokens\": 10000")));
        // Loaded first, so that the cancellation lands in the generation and not in a load a slow start-up is still running.
        await m.LoadModelAsync("a");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => m.GetModel("a").GenerateAsync("x", cancellationToken: cts.Token));
        Assert.Equal(ModelState.Ready, m.GetModelStats()["a"].State);
        Assert.Equal(0, m.GetModelStats()["a"].ActiveLeases);
    }

    [Fact]
    public async Task UnknownModel_ThrowsModelNotFoundException_AnArgumentException()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10)));
        var e = Assert.Throws<ModelNotFoundException>(() => m.GetModel("b"));
        Assert.IsAssignableFrom<ArgumentException>(e);
        Assert.Contains("No model named 'b'", e.Message, StringComparison.Ordinal);
        Assert.Contains("'a'", e.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ModelNotFoundException>(() => m.UnloadModelAsync("b"));
    }
}
