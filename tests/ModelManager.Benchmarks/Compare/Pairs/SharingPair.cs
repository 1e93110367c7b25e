using System.Globalization;

namespace ModelManager.Benchmarks.Compare.Pairs;

/// <summary>Resident memory of 8 agents sharing one managed model vs 8 agents each loading their own copy, each in a child process.</summary>
internal static class SharingPair
{
    public const int Agents = 8;

    public static async Task<IReadOnlyList<Comparison>> RunAsync(PairContext context)
    {
        var label = context.Models.SyntheticLabel;
        var contextLength = context.Options.Quick ? 128 : 512;
        var tokens = context.Options.Quick ? 4 : 16;
        context.Progress($"sharing {label}: {Agents} agents, context {contextLength}, child processes");
        var naive = new List<double>();
        var managed = new List<double>();
        var bound = new List<double>();
        for (var run = 0; run < context.Runs; run++)
        {
            foreach (var mode in run % 2 == 0 ? new[] { "naive", "managed" } : ["managed", "naive"])
            {
                var result = await RunChildAsync(mode, context.Models.Synthetic, contextLength, tokens, context.CancellationToken).ConfigureAwait(false);
                var growthMb = result["rss_growth"] / (double)(1 << 20);
                if (mode == "naive")
                {
                    naive.Add(growthMb);
                    bound.Add((result["weights_bytes"] + (Agents * result["kv_bytes_per_agent"])) / (double)(1 << 20));
                }
                else
                {
                    managed.Add(growthMb);
                }
            }
        }

        var note = $"{Agents} agents on {label}, context {contextLength} each, {tokens} greedy tokens each; resident-memory growth of a fresh child process (malloc trimmed, mmap threshold fixed) from before the first load to after every agent generated.";
        return
        [
            new Comparison($"sharing/{label}/8-agents", "8 agents, 8 LLamaWeights copies", "8 agents, one managed model", "MB", false, naive, managed, 0.25,
                note + " Naive: each agent LoadFromFile + its own context (SeqMax 1); managed: one model, parallel 8."),
            new Comparison($"sharing/{label}/vs-ideal", "weights once + 8 KV caches", "8 agents, one managed model", "MB", false, bound, managed, 1.15,
                "The ideal: LLamaWeights.SizeInBytes + 8 x (context x layers x kv heads x head dim x 2 x F16); the candidate must stay within 15% of it (compute buffers, runtime, manager)."),
        ];
    }

    private static async Task<Dictionary<string, long>> RunChildAsync(string mode, string model, int contextLength, int tokens, CancellationToken cancellationToken)
    {
        var result = await ChildProcess.RunJsonAsync(
            [SharingChild.Command, mode, model, Agents.ToString(CultureInfo.InvariantCulture), contextLength.ToString(CultureInfo.InvariantCulture), tokens.ToString(CultureInfo.InvariantCulture)],
            cancellationToken).ConfigureAwait(false);
        return result.ToDictionary(kv => kv.Key, kv => kv.Value.GetInt64());
    }
}
