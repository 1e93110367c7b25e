namespace ModelManager.Tests;

public sealed class ConcurrencyTests
{
    [Fact]
    public async Task GetModelAsync_100ConcurrentCallers_LoadOnce()
    {
        var (m, backend) = FromJson(Config(100, Fake("x", 10, parameters: "\"load_delay_ms\": 200")));
        var loaded = 0;
        m.RegisterCallback(ModelEventKind.Loaded, _ => Interlocked.Increment(ref loaded));

        var handles = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => Task.Run(() => m.GetModelAsync("x"))));

        Assert.Equal(1, backend.Loads);
        Assert.Equal(1, loaded);
        Assert.Equal(1, m.GetModelStats()["x"].LoadCount);
        Assert.All(handles, h => Assert.Same(handles[0], h));
        Assert.Equal(10 * Mb, m.GetMemoryUsage().TotalBytes);
    }

    [Fact]
    public async Task FailedLoad_LeavesNothingBehind_AndTheNextCallRetries()
    {
        var (m, backend) = FromJson(Config(100, Fake("x", 10, parameters: "\"fail_load\": true")));
        var failures = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Assert.ThrowsAsync<ModelLoadException>(() => m.LoadModelAsync("x"))));

        Assert.All(failures, f => Assert.Contains("fake load failure of 'x'", f.Message, StringComparison.Ordinal));
        Assert.All(failures, f => Assert.Equal("x", f.ModelName));
        Assert.IsType<InvalidOperationException>(failures[0].InnerException);
        var stats = m.GetModelStats()["x"];
        Assert.Equal(ModelState.Unloaded, stats.State);
        Assert.Equal(0, m.GetMemoryUsage().TotalBytes);
        Assert.Equal(0, backend.LiveInstances);
        var first = stats.FailureCount;
        Assert.InRange(first, 1, 10);

        await Assert.ThrowsAsync<ModelLoadException>(() => m.LoadModelAsync("x"));
        Assert.Equal(first + 1, m.GetModelStats()["x"].FailureCount);
    }

    [Fact]
    public async Task Loads_OfDifferentModels_RunConcurrently()
    {
        var (m, backend) = FromJson(Config(100, Fake("a", 10, parameters: "\"load_delay_ms\": 1000"), Fake("b", 10, parameters: "\"load_delay_ms\": 1000")));
        await Task.WhenAll(m.LoadModelAsync("a"), m.LoadModelAsync("b"));
        Assert.Equal(2, backend.PeakConcurrentLoads);
    }

    /// <summary>32 workers × 2,000 random operations over 6 models in a budget that fits 2.</summary>
    [Fact]
    public Task RandomOperations_KeepEveryInvariant() => RunRandomAsync(workers: 32, operations: 2000, changeLimit: true);

    /// <summary>Without limit changes the budget bound is exact: used never exceeds 20 MB.</summary>
    [Fact]
    public Task RandomOperations_WithAFixedLimit_NeverExceedIt() => RunRandomAsync(workers: 16, operations: 500, changeLimit: false);

    private static async Task RunRandomAsync(int workers, int operations, bool changeLimit)
    {
        var models = Enumerable.Range(0, 6).Select(i => Fake($"m{i}", 10, priority: 1 + i % 5, parameters: "\"max_tokens\": 3")).ToArray();
        var (m, backend) = FromJson(Config(20, models).Replace("\"load_wait_timeout\": 1", "\"load_wait_timeout\": 0.05", StringComparison.Ordinal), TimeProvider.System);
        // With limit changes (20 or 30 MB) leased models may hold up to the higher limit until they drain.
        var bound = (changeLimit ? 30 : 20) * Mb;
        var overBudget = 0;
        var unexpected = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var counts = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        m.ModelEvent += (_, _) =>
        {
            if (m.GetMemoryUsage().TotalBytes > bound)
            {
                Interlocked.Increment(ref overBudget);
            }
        };

        async Task Worker(int seed)
        {
            var rng = new Random(seed);
            for (var i = 0; i < operations; i++)
            {
                var name = $"m{rng.Next(6)}";
                try
                {
                    switch (rng.Next(10))
                    {
                        case 0:
                        case 1:
                        case 2:
                            var text = await m.GetModel(name).GenerateAsync("hello");
                            Assert.Equal(FakeModelInstance.Expected(name, "hello", 3), text);
                            break;
                        case 3:
                            await foreach (var _ in m.GetModel(name).GenerateStreamingAsync("stream"))
                            {
                            }

                            break;
                        case 4:
                            await using (await m.AcquireAsync(name))
                            {
                                await Task.Yield();
                            }

                            break;
                        case 5:
                            await m.GetModelAsync(name);
                            break;
                        case 6:
                            await m.UnloadModelAsync(name);
                            break;
                        case 7:
                            await m.UnloadModelAsync(name, force: true);
                            break;
                        case 8 when changeLimit:
                            m.SetMemoryLimit(rng.Next(2) == 0 ? 20 : 30);
                            break;
                        default:
                            _ = m.GetMemoryUsage();
                            _ = m.GetModelStats();
                            break;
                    }

                    counts.AddOrUpdate("ok", 1, (_, c) => c + 1);
                }
                catch (Exception e) when (e is ModelMemoryException or ModelUnloadedException)
                {
                    counts.AddOrUpdate(e.GetType().Name, 1, (_, c) => c + 1);
                }
                catch (Exception e)
                {
                    unexpected.Enqueue(e);
                }

                if (m.GetMemoryUsage().TotalBytes > bound)
                {
                    Interlocked.Increment(ref overBudget);
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, workers).Select(s => Task.Run(() => Worker(s)))).WaitAsync(TimeSpan.FromMinutes(3));
        m.SetMemoryLimit(20);

        Assert.True(unexpected.IsEmpty, string.Join("\n---\n", unexpected.Take(3)));
        Assert.Equal(0, overBudget);
        Assert.Equal(0, backend.UseAfterUnloadCount);
        Assert.Equal(0, backend.FreedWhileInUseCount);
        Assert.All(m.GetModelStats().Values, s => Assert.Equal(0, s.ActiveLeases));
        Assert.True(counts.GetValueOrDefault("ok") > workers * operations / 2, string.Join(", ", counts));

        await m.ShutdownAsync();
        Assert.Equal(0, backend.LiveInstances);
        Assert.Equal(0, m.GetMemoryUsage().TotalBytes);
    }
}
