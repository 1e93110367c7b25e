using System.Globalization;

namespace ModelManager.Benchmarks.Compare.Pairs;

/// <summary>
/// Greedy decode speed and load time of the manager at its defaults (weights in transparent huge pages) against LLamaSharp
/// direct, each side in a fresh child process, alternating.
/// </summary>
internal static class PlacementPair
{
    public static async Task<IReadOnlyList<Comparison>> RunAsync(PairContext context)
    {
        var label = context.Models.SyntheticLabel;
        var quick = context.Options.Quick;
        var (contextLength, parallel, tokens, repeats) = (512, 4, quick ? 8 : 64, quick ? 1 : 3);
        var thp = MachineInfo.ReadThp();
        context.Progress($"placement {label}: {tokens} greedy tokens x {repeats}, child processes, THP {thp}");

        // The warm-up model: large enough (8 MB of weights) that the manager's huge-page code runs, and is compiled, before the timed load.
        var warmUp = SyntheticGgufWriter.GetOrCreate(context.Options.CacheDirectory, new SyntheticGgufOptions { TargetBytes = 8L << 20, Seed = 3, Name = "bench-warm" });
        var direct = (Load: new List<double>(), Speed: new List<double>());
        var managed = (Load: new List<double>(), Speed: new List<double>());
        var small = (Load: new List<double>(), Speed: new List<double>());
        var stateless = (Load: new List<double>(), Speed: new List<double>());
        long hugeBytes = 0;
        var texts = new HashSet<string>(StringComparer.Ordinal);
        for (var run = 0; run < context.Runs; run++)
        {
            foreach (var mode in run % 2 == 0 ? new[] { "direct", "managed", "managed-4k", "stateless" } : ["stateless", "managed-4k", "managed", "direct"])
            {
                var result = await ChildProcess.RunJsonAsync(
                    [PlacementChild.Command, mode, context.Models.Synthetic, .. new[] { contextLength, parallel, tokens, repeats }.Select(n => n.ToString(CultureInfo.InvariantCulture)), warmUp],
                    context.CancellationToken).ConfigureAwait(false);
                var side = mode switch { "direct" => direct, "managed" => managed, "stateless" => stateless, _ => small };
                side.Load.Add(result["load_ms"].GetDouble());
                side.Speed.Add(result["tokens_per_second"].GetDouble());
                texts.Add(result["text"].GetString() ?? "");
                if (mode == "managed")
                {
                    hugeBytes = result["huge_page_bytes"].GetInt64();
                }
            }
        }

        var note = $"{label}, context {contextLength} x parallel {parallel}, greedy {tokens} tokens after \"{PlacementChild.Prompt}\", median of {repeats} calls after a warm-up, " +
                   $"each side a fresh process (run alternately). THP on this machine: {thp}; the manager's weights in huge pages: {hugeBytes / (1024.0 * 1024):F0} MB. " +
                   (texts.Count == 1 ? "Output identical on both sides." : $"Outputs differ ({texts.Count} distinct).");
        return
        [
            new Comparison($"placement/{label}/decode", "LLamaWeights.LoadFromFile + BatchedExecutor (own process)", "manager, default settings (own process)", "tok/s", true,
                direct.Speed, managed.Speed, 1.15, note),
            new Comparison($"placement/{label}/decode-vs-stateless", "LLamaSharp StatelessExecutor.InferAsync (own process)", "manager, default settings (own process)", "tok/s", true,
                stateless.Speed, managed.Speed, null, "Against the StatelessExecutor (a context per call), the baseline the issue's figures used (informational)."),
            new Comparison($"placement/{label}/decode-4k-pages", "LLamaWeights.LoadFromFile + BatchedExecutor (own process)", "manager, huge_pages off (own process)", "tok/s", true,
                direct.Speed, small.Speed, null, "The same, with the manager's weights on 4 KB pages as LLamaSharp's: what the placement alone is worth (informational)."),
            new Comparison($"placement/{label}/load", "LLamaWeights.LoadFromFile + CreateContext (own process)", "manager LoadModelAsync, huge pages advised (own process)", "ms", false,
                direct.Load, managed.Load, 1.1, "The same processes' load times: the first load of this model in a process that has loaded and run an 8 MB synthetic model (JIT, the huge-page path and llama.cpp warm on both sides), the file in the page cache; the manager's includes finding, advising and checking the weights' pages."),
        ];
    }
}
