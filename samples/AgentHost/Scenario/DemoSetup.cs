using System.Text.Json;
using System.Text.Json.Nodes;

namespace AgentHost;

/// <summary>Writes the demo's models and config.json: a shared model, two synthetic ones, a corrupt one, and a budget that fits only some.</summary>
public static class DemoSetup
{
    private const long Mb = 1024 * 1024;

    public static async Task<DemoPlan> PrepareAsync(AgentHostOptions options, AgentConsole console, CancellationToken cancellationToken)
    {
        var fake = options.Backend == "fake";
        var coderMb = options.IsShort ? 8 : 64;
        var reviewerMb = options.IsShort ? 12 : 96;
        var idleSeconds = options.IsShort ? 2 : 3;
        var runDirectory = SampleFiles.NewRunDirectory();
        var configPath = Path.Combine(runDirectory, "config.json");

        string shared, memory;
        string coder = $"coder-{coderMb}m", reviewer = $"reviewer-{reviewerMb}m", broken = "reviewer-q4";
        string? cache = null;
        var realEmbeddings = false;
        JsonObject sharedJson, coderJson, reviewerJson, brokenJson, memoryJson;
        var sources = new Dictionary<string, string>();
        if (fake)
        {
            shared = "story-fake-2m";
            sharedJson = Fake(shared, 2, priority: 1, idle: 0);
            coderJson = Fake(coder, coderMb, priority: 2, idle: idleSeconds);
            brokenJson = Fake(broken, reviewerMb, priority: 3, idle: 0, fail: true);
            reviewerJson = Fake(reviewer, reviewerMb, priority: 5, idle: 0);
            memory = "memory-fake-4m";
            memoryJson = Fake(memory, 4, priority: 3, idle: 0);
            memoryJson["capabilities"] = new JsonArray("embeddings");
            foreach (var name in new[] { shared, coder, reviewer, memory })
            {
                sources[name] = "fake: a block of native memory";
            }

            sources[broken] = "fake: parameters.fail_load = true";
        }
        else
        {
            cache = Path.GetFullPath(options.CacheDirectory ?? SampleFiles.DefaultCacheDirectory());
            var stories = SampleFiles.FindSharedModel(Path.Combine("stories260K", "stories260K.gguf"));
            string sharedPath;
            if (stories is not null)
            {
                shared = "stories260K";
                sharedPath = stories;
                sources[shared] = stories;
            }
            else
            {
                shared = "tiny-story-2m";
                sharedPath = Synthetic(cache, 2, seed: 1, console);
                sources[shared] = $"{Path.GetFileName(sharedPath)} (synthetic: shared/models/stories260K not found)";
                console.Note("shared/models/stories260K/stories260K.gguf not found: a 2 MB synthetic model stands in for it.");
            }

            var coderPath = Synthetic(cache, coderMb, seed: 2, console);
            var reviewerPath = Synthetic(cache, reviewerMb, seed: 3, console);
            SampleFiles.WriteCorruptGguf(Path.Combine(runDirectory, "reviewer-q4.gguf"));
            sources[coder] = $"{Path.GetFileName(coderPath)} (synthetic, in the cache)";
            sources[reviewer] = $"{Path.GetFileName(reviewerPath)} (synthetic, in the cache)";
            sources[broken] = "reviewer-q4.gguf beside the config (corrupt: bad magic)";

            // The shared model also answers with a tool, whose description takes a few hundred tokens of its context.
            sharedJson = Gguf(shared, sharedPath, priority: 1, idle: 0, parallel: 2, context: 1024);
            coderJson = Gguf(coder, coderPath, priority: 2, idle: idleSeconds, parallel: 1);
            brokenJson = Gguf(broken, "reviewer-q4.gguf", priority: 3, idle: 0, parallel: 1);
            reviewerJson = Gguf(reviewer, reviewerPath, priority: 5, idle: 0, parallel: 1);

            // The retrieval step's embedding model: the real MiniLM encoder when it is there (not in the short scenario,
            // whose budget is too small for it), else a small synthetic GGUF asked for embeddings (its vectors are noise).
            var minilm = options.IsShort ? null : SampleFiles.FindSharedModel(Path.Combine("all-MiniLM-L6-v2", "model.onnx"));
            if (minilm is not null)
            {
                memory = "all-MiniLM-L6-v2";
                realEmbeddings = true;
                memoryJson = new JsonObject
                {
                    ["name"] = memory,
                    ["type"] = "onnx",
                    ["path"] = Path.GetDirectoryName(minilm),
                    ["context_length"] = 128,
                    ["batch_size"] = 2,
                    ["memory_priority"] = 3,
                    ["max_idle_time"] = 0.0,
                };
                sources[memory] = Path.GetDirectoryName(minilm)!;
            }
            else
            {
                memory = "memory-4m";
                var memoryPath = Synthetic(cache, 4, seed: 4, console);
                memoryJson = Gguf(memory, memoryPath, priority: 3, idle: 0, parallel: 1, context: 128);
                memoryJson["capabilities"] = new JsonArray("embeddings");
                sources[memory] = $"{Path.GetFileName(memoryPath)} (synthetic, asked for embeddings)";
            }
        }

        brokenJson["fallbacks"] = new JsonArray(reviewer);
        JsonObject Config(long budgetMb) => new()
        {
            ["max_memory_mb"] = budgetMb,
            ["load_wait_timeout"] = 10,
            ["models"] = new JsonArray(sharedJson.DeepClone(), coderJson.DeepClone(), brokenJson.DeepClone(), reviewerJson.DeepClone(), memoryJson.DeepClone()),
            ["agents"] = new JsonObject
            {
                [nameof(CodebaseExpertAgent)] = new JsonObject { ["model"] = shared },
                [nameof(SummarizerAgent)] = new JsonObject { ["model"] = shared },
                [nameof(CodeGeneratorAgent)] = new JsonObject { ["model"] = coder },
                [nameof(ReviewerAgent)] = new JsonObject { ["model"] = broken },
                [nameof(RetrievalAgent)] = new JsonObject { ["model"] = shared },
                [MemoryAgent.Key] = new JsonObject { ["model"] = memory },
            },
        };

        // Ask the backends what each model will cost, then pick a budget that holds the shared model with either
        // big one but not with both: loading the second one must evict the first. The retrieval step later needs the
        // shared model and the embedding model together, once the big ones are gone.
        await WriteAsync(configPath, Config(64 * 1024), cancellationToken);
        var estimates = await EstimateAsync(configPath, cancellationToken);
        long Cost(string name) => estimates[name].Bytes ?? throw new InvalidOperationException($"The demo could not estimate '{name}': {estimates[name].Error}");
        long s = Cost(shared), c = Cost(coder), r = Cost(reviewer), e = Cost(memory);
        var budgetMb = (long)Math.Round((Math.Max(s + c, s + r) + (s + c + r)) / 2.0 / Mb);
        budgetMb = Math.Max(budgetMb, (long)Math.Ceiling((s + e) / (double)Mb) + 1);
        if (budgetMb * Mb >= s + c + r)
        {
            throw new InvalidOperationException($"The demo's budget ({budgetMb} MB) would hold {shared}, {coder} and {reviewer} together; the eviction step needs less.");
        }

        await WriteAsync(configPath, Config(budgetMb), cancellationToken);

        DemoModel Row(JsonObject m) => new(
            (string)m["name"]!, sources[(string)m["name"]!], (int)m["memory_priority"]!, (double)m["max_idle_time"]!,
            m["fallbacks"] is JsonArray f ? (string?)f[0] : null, estimates[(string)m["name"]!].Bytes);
        return new DemoPlan
        {
            ConfigPath = configPath,
            Backend = options.Backend,
            IsShort = options.IsShort,
            CacheDirectory = cache,
            SharedModel = shared,
            CoderModel = coder,
            ReviewerModel = reviewer,
            BrokenModel = broken,
            EmbeddingModel = memory,
            RealEmbeddings = realEmbeddings,
            IdleSeconds = idleSeconds,
            MaxTokens = options.IsShort ? 24 : 64,
            BudgetMb = budgetMb,
            Models = [Row(sharedJson), Row(coderJson), Row(brokenJson), Row(reviewerJson), Row(memoryJson)],
        };
    }

    private static string Synthetic(string cache, int megabytes, int seed, AgentConsole console)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var path = SyntheticGgufWriter.GetOrCreate(cache, new SyntheticGgufOptions { TargetBytes = megabytes * Mb, Seed = seed, Name = $"agenthost-{megabytes}m" });
        if (watch.Elapsed > TimeSpan.FromMilliseconds(200))
        {
            console.Note($"wrote synthetic model {path} in {watch.Elapsed.TotalSeconds:F1} s (cached for the next runs)");
        }

        return path;
    }

    private static JsonObject Gguf(string name, string path, int priority, double idle, int parallel, int context = 256) => new()
    {
        ["name"] = name,
        ["type"] = "gguf",
        ["path"] = path,
        ["context_length"] = context,
        ["parallel"] = parallel,
        ["memory_priority"] = priority,
        ["max_idle_time"] = idle,
        ["parameters"] = new JsonObject { ["temperature"] = 0, ["max_tokens"] = 64 },
    };

    private static JsonObject Fake(string name, int megabytes, int priority, double idle, bool fail = false) => new()
    {
        ["name"] = name,
        ["type"] = "fake",
        ["memory_priority"] = priority,
        ["max_idle_time"] = idle,
        ["parameters"] = new JsonObject
        {
            ["temperature"] = 0,
            ["max_tokens"] = 64,
            ["size_mb"] = megabytes,
            ["load_delay_ms"] = 300 + (megabytes * 5),
            ["token_delay_ms"] = 10,
            ["fail_load"] = fail,
        },
    };

    private static Task WriteAsync(string path, JsonObject config, CancellationToken cancellationToken) =>
        File.WriteAllTextAsync(path, config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + Environment.NewLine, cancellationToken);

    /// <summary>Builds a throwaway manager over the config and asks each model's backend for its estimate.</summary>
    private static async Task<Dictionary<string, (long? Bytes, string? Error)>> EstimateAsync(string configPath, CancellationToken cancellationToken)
    {
        var services = new ServiceCollection();
        AgentHostApp.AddBackends(services.AddModelManager(configPath));
        await using var provider = services.BuildServiceProvider();
        var manager = provider.GetRequiredService<IModelManager>();
        var backends = provider.GetServices<IModelBackend>().ToList();
        var estimates = new Dictionary<string, (long?, string?)>(StringComparer.Ordinal);
        foreach (var model in manager.GetModels())
        {
            var backend = backends.First(b => b.Types.Contains(model.Type, StringComparer.OrdinalIgnoreCase));
            try
            {
                estimates[model.Name] = (await backend.EstimateBytesAsync(model, cancellationToken), null);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                estimates[model.Name] = (null, $"{e.GetType().Name}: {e.Message}");
            }
        }

        return estimates;
    }
}
