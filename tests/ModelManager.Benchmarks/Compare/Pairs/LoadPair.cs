using System.Diagnostics;

namespace ModelManager.Benchmarks.Compare.Pairs;

/// <summary>Cold load through the manager vs <c>LLamaWeights.LoadFromFile</c> + <c>CreateContext</c> with the same ModelParams.</summary>
internal static class LoadPair
{
    public const int ContextLength = 256;
    public const int Parallel = 4;
    public const int WideVocabulary = 152_000;

    public static async Task<IReadOnlyList<Comparison>> RunAsync(PairContext context)
    {
        var results = new List<Comparison>();

        // A current model's vocabulary (152,000 tokens, like Qwen 2.5's 151,936; Llama 3 has 128,256): the header check reads every token's length.
        var wide = SyntheticGgufWriter.GetOrCreate(context.Options.CacheDirectory,
            new SyntheticGgufOptions { TargetBytes = context.Options.Quick ? BenchModels.QuickSyntheticBytes : 48L << 20, Seed = 4, VocabularySize = WideVocabulary, Name = "bench-vocab152k" });
        foreach (var (label, path) in new[] { ("stories260K", context.Models.Stories260K), (context.Models.SyntheticLabel, context.Models.Synthetic), ("synthetic-vocab152k", wide) })
        {
            context.Progress($"load {label}");
            var setup = new GgufSetup(path, ContextLength, Parallel);
            var config = GgufSetup.Config(16384, setup.Json("m", 16));
            var samples = await Sampler.RotateAsync(context.Runs, context.WarmUp, context.CancellationToken,
                () => Task.FromResult(DirectLlama.TimeLoad(setup)),
                () => ManagedAsync(config)).ConfigureAwait(false);
            results.Add(new Comparison(
                $"load/{label}",
                "LLamaWeights.LoadFromFile + CreateContext",
                "manager LoadModelAsync (cold)",
                "ms",
                HigherIsBetter: false,
                samples[0],
                samples[1],
                Target: 1.05,
                $"Same ModelParams (context {ContextLength} x parallel {Parallel}, LoadMode None, batch 512); file in the page cache; the manager's time includes its GGUF header check, estimate, budget reservation and BatchedExecutor."));
        }

        return results;
    }

    private static async Task<double> ManagedAsync(string config)
    {
        await using var fixture = await ManagerFixture.CreateAsync(config).ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        await fixture.Manager.LoadModelAsync("m").ConfigureAwait(false);
        return watch.Elapsed.TotalMilliseconds;
    }
}
