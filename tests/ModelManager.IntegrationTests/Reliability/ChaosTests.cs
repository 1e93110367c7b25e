using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using System.Net;
using System.Text;
using ModelManager.Benchmarks;
using ModelManager.IntegrationTests.OpenAI;
using Xunit.Abstractions;

namespace ModelManager.IntegrationTests;

/// <summary>
/// 16 workers doing random operations over real GGUF and ONNX models and fake ones, under a budget that fits two of them,
/// while the configuration is reloaded and 64 HTTP connections send chat and completion requests (streamed and not) to
/// ModelServer over the same manager. Duration: MODELMANAGER_CHAOS_SECONDS (default 60; run 600 on demand).
/// </summary>
[Collection(RunAlone.Name)]
public sealed class ChaosTests(ITestOutputHelper output)
{
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(60);
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>HTTP connections kept busy against ModelServer throughout the run.</summary>
    private const int HttpConnections = 64;

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task ChaosRun_NoCrashNoDeadlock_EveryLeaseReturned_MemoryBackToBaseline()
    {
        var seconds = int.TryParse(Environment.GetEnvironmentVariable("MODELMANAGER_CHAOS_SECONDS"), out var s) ? s : 60;
        var synthA = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 6_000_000, Seed = 21 });
        var synthB = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 6_000_000, Seed = 22 });
        var estimate = GgufMemoryEstimator.Estimate(GgufReader.Read(synthA), 128, 4);
        var limitMb = (2 * estimate / 1048576) + 2; // two synthetic models fit, not three
        var fakeMb = Math.Max(1, estimate / 1048576 / 2);

        string Json(int limit, int fakePriority) => $$"""
            { "max_memory_mb": {{limit}}, "load_wait_timeout": 2, "load_timeout": 60,
              "models": [
                {{GgufManagers.Stories(priority: 2)}},
                {{GgufManagers.Gguf("synth-a", synthA, priority: 3)}},
                {{GgufManagers.Gguf("synth-b", synthB, priority: 4)}},
                {{OnnxManagers.Onnx("tiny-onnx", OnnxManagers.TinyGpt2, priority: 3, extra: "\"parallel\": 4")}},
                { "name": "fake-a", "type": "fake", "memory_priority": {{fakePriority}}, "parameters": { "size_mb": {{fakeMb}}, "max_tokens": 4, "token_delay_ms": 1 } },
                { "name": "fake-b", "type": "fake", "memory_priority": 5, "max_idle_time": 1, "parameters": { "size_mb": {{fakeMb}}, "max_tokens": 4 } } ] }
            """;

        // Warm the native libraries so that their one-time memory is not counted as a leak.
        ProcessMemory.FixMallocThreshold();
        var ogaReferences = OgaRuntime.References; // what earlier tests' managers still hold, if any: not this run's to release
        await WarmUpAsync(Json((int)limitMb, 3));
        var baseline = Rss();

        // Two phases: the first shows the high-water mark of allocators and thread pools, the second must add nothing.
        var first = await RunPhaseAsync(Json, (int)limitMb, Math.Max(1, seconds / 2));
        var afterFirst = Rss();
        var second = await RunPhaseAsync(Json, (int)limitMb, Math.Max(1, seconds - (seconds / 2)));
        var afterSecond = Rss();

        // A leak proportional to work grows in every phase; an allocator's high-water mark that the second phase happened
        // to push a little further does not grow again. So when the second phase added more than the bound, a third
        // phase (as long as the second) must add less than it.
        long? afterThird = null;
        if (afterSecond - afterFirst >= PhaseGrowthBound)
        {
            second = second.Then(await RunPhaseAsync(Json, (int)limitMb, Math.Max(1, seconds - (seconds / 2))));
            afterThird = Rss();
        }

        var all = first.Then(second);
        var total = all.Counts.Values.Sum();
        var summary = new
        {
            seconds = Math.Round(all.Elapsed.TotalSeconds, 1),
            workers = 16,
            operations = total,
            by_kind = all.Counts.OrderBy(kv => kv.Key).ToDictionary(kv => kv.Key, kv => kv.Value),
            unexpected_errors = all.Violations.Count,
            http = new
            {
                connections = HttpConnections,
                requests = all.Http.Requests,
                by_status = all.Http.ByStatus.OrderBy(kv => kv.Key).ToDictionary(kv => kv.Key, kv => kv.Value),
                requests_per_second = Math.Round(all.Http.Requests / all.Elapsed.TotalSeconds, 1),
                p50_ms = Percentile(all.Http.LatenciesMs, 0.50),
                p99_ms = Percentile(all.Http.LatenciesMs, 0.99),
            },
            huge_page_mb_seen = all.HugePageBytesSeen / 1048576, // the synthetic models' weights collapsed while they serve
            rss_baseline_mb = baseline / 1048576,
            rss_after_first_half_mb = afterFirst / 1048576,
            rss_after_second_half_mb = afterSecond / 1048576,
            rss_after_third_phase_mb = afterThird / 1048576, // null when the second phase stayed within the bound
            managed_heap_mb = GC.GetTotalMemory(forceFullCollection: true) / 1048576,
            oga_references_before = ogaReferences,
            threads = Status("Threads:"),
        };
        var report = JsonSerializer.Serialize(summary, Indented);
        output.WriteLine(report);
        await File.WriteAllTextAsync(Path.Combine(TestCache.Directory, "chaos-last-run.json"), report);

        Assert.True(all.Violations.IsEmpty, string.Join("\n", all.Violations.Distinct().Take(10)));
        Assert.Equal(0, all.LeasesAtEnd);
        Assert.True(total > seconds * 16, $"only {total} operations in {seconds} s");
        Assert.True(first.Http.ByStatus.GetValueOrDefault(200) > 0 && second.Http.ByStatus.GetValueOrDefault(200) > 0, "no HTTP request succeeded in a phase");
        Assert.Equal(0, LlamaSharpModel.LiveCount);
        // A generation's native objects go when its producer thread lets them go, which may follow the lease by a moment.
        for (var waited = 0; OgaRuntime.References != ogaReferences && waited < 10_000; waited += 20)
        {
            await Task.Delay(20); // a hang bound only
        }

        Assert.True(OgaRuntime.References == ogaReferences, $"{OgaRuntime.References} ONNX runtime references after the run, {ogaReferences} before it: the run leaked a model or a backend");
        Assert.Equal(ogaReferences > 0, OgaRuntime.IsRunning); // OgaHandle shut down once the last reference went
        Assert.True(afterThird is { } third ? third - afterSecond < PhaseGrowthBound : afterSecond - afterFirst < PhaseGrowthBound,
            $"RSS grew from {afterFirst / 1048576} MB to {afterSecond / 1048576} MB across a second chaos phase"
            + (afterThird is { } t ? $" and to {t / 1048576} MB across a third" : string.Empty) + ": a leak proportional to work");
        Assert.True(afterFirst - baseline < 192L * 1048576, $"RSS {baseline / 1048576} MB before, {afterFirst / 1048576} MB after the first phase");
    }

    /// <summary>How much RSS a chaos phase after the first may add before it counts as a leak.</summary>
    private const long PhaseGrowthBound = 32L * 1048576;

    private sealed record Phase(Dictionary<string, int> Counts, ConcurrentQueue<string> Violations, int LeasesAtEnd, TimeSpan Elapsed, HttpLoad Http, long HugePageBytesSeen)
    {
        /// <summary>This phase and <paramref name="next"/> as one.</summary>
        public Phase Then(Phase next) => new(
            Sum(Counts, next.Counts),
            new ConcurrentQueue<string>(Violations.Concat(next.Violations)),
            LeasesAtEnd + next.LeasesAtEnd,
            Elapsed + next.Elapsed,
            new HttpLoad(Http.Requests + next.Http.Requests, Sum(Http.ByStatus, next.Http.ByStatus), [.. Http.LatenciesMs, .. next.Http.LatenciesMs]),
            Math.Max(HugePageBytesSeen, next.HugePageBytesSeen));

        private static Dictionary<TKey, int> Sum<TKey>(Dictionary<TKey, int> a, Dictionary<TKey, int> b)
            where TKey : notnull
            => a.Concat(b).GroupBy(kv => kv.Key).ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value));
    }

    /// <summary>What the HTTP clients saw: requests by status code, and each request's latency.</summary>
    private sealed record HttpLoad(int Requests, Dictionary<int, int> ByStatus, IReadOnlyList<double> LatenciesMs);

    private static double Percentile(IEnumerable<double> values, double fraction)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : Math.Round(sorted[Math.Min(sorted.Length - 1, (int)(fraction * sorted.Length))], 1);
    }

    private static async Task<Phase> RunPhaseAsync(Func<int, int, string> json, int limitMb, int seconds)
    {
        await using var server = await ModelServerHost.StartAsync(json(limitMb, 3));
        var manager = server.Manager;
        var dm = (DefaultModelManager)manager;
        var fake = server.Services.GetRequiredService<FakeModelBackend>();
        string[] names = ["stories", "synth-a", "synth-b", "tiny-onnx", "fake-a", "fake-b"];
        var maxBound = (limitMb + 8) * 1048576L; // the highest limit the run sets
        var counts = new ConcurrentDictionary<string, int>();
        var violations = new ConcurrentQueue<string>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
        var sw = Stopwatch.StartNew();

        long hugeSeen = 0;
        var monitor = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                hugeSeen = Math.Max(hugeSeen, manager.GetModelStats().Values.Sum(x => x.HugePageBytes));
                // The manager's own decisions keep the budget within the (highest) limit; only what backends report
                // beyond their estimates (measured after the load) may push it over, until idle models are evicted.
                var usage = manager.GetMemoryUsage();
                var reportedOver = usage.Models.Values.Sum(x => Math.Max(0, x.ActualBytes - x.EstimatedBytes));
                if (usage.TotalBytes > maxBound + reportedOver)
                {
                    violations.Enqueue($"budget {usage.TotalBytes} > {maxBound} + {reportedOver} reported beyond estimates");
                }

                await Task.Delay(5);
            }
        });

        async Task Worker(int seed)
        {
            var rng = new Random(seed);
            while (!stop.IsCancellationRequested)
            {
                var name = names[rng.Next(names.Length)];
                var op = rng.Next(100);
                string kind;
                using var timeout = new CancellationTokenSource(OperationTimeout);
                try
                {
                    switch (op)
                    {
                        case < 35:
                            kind = "generate";
                            var text = await manager.GetModel(name).GenerateAsync(PromptFor(name), new GenerationOptions { MaxTokens = 8 }, timeout.Token);
                            if (text.Length == 0 && name.StartsWith("fake", StringComparison.Ordinal))
                            {
                                violations.Enqueue($"{name} generated nothing");
                            }

                            break;
                        case < 55:
                            kind = "stream";
                            var n = 0;
                            await foreach (var _ in manager.GetModel(name).GenerateStreamingAsync(PromptFor(name), new GenerationOptions { MaxTokens = 12 }, timeout.Token))
                            {
                                if (++n == 6 && rng.Next(4) == 0)
                                {
                                    break; // abandon a stream half way
                                }
                            }

                            break;
                        case < 65:
                            kind = "lease";
                            await using (await manager.AcquireAsync(name, timeout.Token))
                            {
                                await Task.Delay(rng.Next(5), timeout.Token);
                            }

                            break;
                        case < 75:
                            kind = "unload";
                            await manager.UnloadModelAsync(name, cancellationToken: timeout.Token);
                            break;
                        case < 82:
                            kind = "force-unload";
                            await manager.UnloadModelAsync(name, force: true, timeout.Token);
                            break;
                        case < 90:
                            kind = "set-limit";
                            manager.SetMemoryLimit(limitMb + rng.Next(3) * 4);
                            break;
                        case < 95:
                            kind = "reload-config";
                            var options = new ModelManagerOptions();
                            ModelConfigurationLoader.LoadJson(System.Text.Encoding.UTF8.GetBytes(json(limitMb + rng.Next(3) * 4, 1 + rng.Next(5))), "chaos.json", options);
                            if (!dm.ApplyConfiguration(options))
                            {
                                violations.Enqueue("a valid reload was rejected");
                            }

                            break;
                        default:
                            kind = "stats";
                            _ = manager.GetModelStats();
                            _ = manager.GetMemoryUsage();
                            break;
                    }

                    counts.AddOrUpdate(kind, 1, (_, c) => c + 1);
                }
                catch (OperationCanceledException) when (timeout.IsCancellationRequested)
                {
                    violations.Enqueue($"an operation on {name} did not finish within {OperationTimeout.TotalSeconds} s (deadlock?)");
                }
                catch (Exception e) when (e is ModelMemoryException or ModelUnloadedException)
                {
                    counts.AddOrUpdate(e.GetType().Name, 1, (_, c) => c + 1);
                }
                catch (Exception e)
                {
                    violations.Enqueue($"{e.GetType().Name}: {e.Message}");
                }
            }
        }

        var statuses = new ConcurrentDictionary<int, int>();
        var latencies = new ConcurrentQueue<double>();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = HttpConnections }) { BaseAddress = server.Address, Timeout = OperationTimeout };

        // The OpenAI wire format over the same manager: every request gets an answer, and only documented ones.
        async Task HttpClientLoop(int seed)
        {
            var rng = new Random(1000 + seed);
            while (!stop.IsCancellationRequested)
            {
                var name = names[rng.Next(names.Length)];
                var stream = rng.Next(3) == 0;
                // The tiny ONNX model's chat format wraps the prompt in words outside its 1000-token vocabulary: completions only.
                var chat = name != "tiny-onnx" && rng.Next(2) == 0;
                var body = chat
                    ? $$"""{"model":"{{name}}","messages":[{"role":"user","content":"{{PromptFor(name)}}"}],"max_tokens":6,"temperature":0,"stream":{{(stream ? "true" : "false")}}}"""
                    : $$"""{"model":"{{name}}","prompt":"{{PromptFor(name)}}","max_tokens":6,"temperature":0,"stream":{{(stream ? "true" : "false")}}}""";
                var started = Stopwatch.GetTimestamp();
                try
                {
                    using var content = new StringContent(body, Encoding.UTF8, "application/json");
                    using var response = await http.PostAsync(chat ? "v1/chat/completions" : "v1/completions", content);
                    var text = await response.Content.ReadAsStringAsync();
                    var code = (int)response.StatusCode;
                    statuses.AddOrUpdate(code, 1, (_, c) => c + 1);
                    latencies.Enqueue(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                    bool documented = response.StatusCode == HttpStatusCode.OK
                        ? !stream || text.Contains("data: [DONE]", StringComparison.Ordinal) || text.Contains("\"error\"", StringComparison.Ordinal)
                        // 503 + Retry-After: no room now, busy, unloaded mid-call; 507: a model whose measured size exceeds the whole budget (permanent).
                        : text.Contains("\"error\"", StringComparison.Ordinal)
                          && ((response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter is not null) || response.StatusCode == HttpStatusCode.InsufficientStorage);
                    if (!documented)
                    {
                        violations.Enqueue($"HTTP {code} for {(chat ? "chat" : "completion")} on {name}{(stream ? " (stream)" : "")}: {text[..Math.Min(300, text.Length)]}");
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    violations.Enqueue($"HTTP request on {name} got no answer: {e.GetType().Name}: {e.Message}");
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => Worker(i)))
                .Concat(Enumerable.Range(0, HttpConnections).Select(i => Task.Run(() => HttpClientLoop(i)))))
            .WaitAsync(TimeSpan.FromSeconds(seconds) + OperationTimeout * 2);
        await monitor;
        var leases = manager.GetModelStats().Values.Sum(x => x.ActiveLeases);
        await manager.ShutdownAsync().WaitAsync(TimeSpan.FromSeconds(60));
        if (fake.LiveInstances != 0 || fake.UseAfterUnloadCount != 0 || fake.FreedWhileInUseCount != 0)
        {
            violations.Enqueue($"fake models: {fake.LiveInstances} live after shutdown, {fake.UseAfterUnloadCount} used after unload, {fake.FreedWhileInUseCount} freed in use");
        }

        var load = new HttpLoad(statuses.Values.Sum(), statuses.ToDictionary(), [.. latencies]);
        return new Phase(counts.ToDictionary(), violations, leases, sw.Elapsed, load, hugeSeen);
    }

    // The tiny ONNX model's vocabulary is 1000 tokens: English prompts would (rightly) be rejected.
    private static string PromptFor(string model) => model == "tiny-onnx" ? OnnxManagers.Prompt : "Once upon a time";

    private static async Task WarmUpAsync(string json)
    {
        var (services, manager) = OnnxManagers.Create(json);
        await manager.GetModel("stories").GenerateAsync("Once", new GenerationOptions { MaxTokens = 2 });
        await manager.GetModel("tiny-onnx").GenerateAsync(OnnxManagers.Prompt, new GenerationOptions { MaxTokens = 2 });
        await manager.ShutdownAsync();
        await services.DisposeAsync();
    }

    private static string Status(string key) =>
        File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))?[key.Length..].Trim() ?? "?";

    private static long Rss() => ProcessMemory.TrimmedRss();
}
