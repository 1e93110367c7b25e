using System.Diagnostics;

namespace ModelManager.Benchmarks.Compare.Pairs;

/// <summary>Aggregate tokens/s of 1, 2, 4 and 8 agents sharing one managed GGUF model (decoded together in one batch).</summary>
/// <remarks>
/// Run twice: with llama.cpp's default thread count (half the cores) and with <c>threads</c> set to every core, because
/// a batch of 8 sequences turns a memory-bound decode into a compute-bound one, and then cores decide.
/// </remarks>
internal static class ConcurrencyPair
{
    public const int ContextLength = 256;
    public const int Parallel = 8;
    public static readonly int[] AgentCounts = [1, 2, 4, 8];

    public static async Task<IReadOnlyList<Comparison>> RunAsync(PairContext context)
    {
        var results = new List<Comparison>();
        foreach (var threads in new int?[] { null, Environment.ProcessorCount }.Distinct())
        {
            results.AddRange(await MeasureAsync(context, threads).ConfigureAwait(false));
        }

        return results;
    }

    private static async Task<IReadOnlyList<Comparison>> MeasureAsync(PairContext context, int? threads)
    {
        var maxTokens = context.Options.Quick ? 8 : 48;
        var label = context.Models.SyntheticLabel;
        var threadLabel = threads is { } t ? $"threads {t}" : $"default threads ({Math.Max(Environment.ProcessorCount / 2, 1)})";
        context.Progress($"concurrency {label}, {threadLabel}: 1, 2, 4, 8 agents x {maxTokens} tokens");
        var setup = new GgufSetup(context.Models.Synthetic, ContextLength, Parallel, threads);
        await using var fixture = await ManagerFixture.CreateAsync(GgufSetup.Config(16384, setup.Json("shared", maxTokens))).ConfigureAwait(false);
        await fixture.Manager.LoadModelAsync("shared").ConfigureAwait(false);
        var handle = fixture.Manager.GetModel("shared");
        var shortfalls = new List<string>();

        async Task<double> Agents(int agents)
        {
            var watch = Stopwatch.StartNew();
            var counts = await Task.WhenAll(Enumerable.Range(0, agents).Select(i => Task.Run(async () =>
            {
                // One streamed piece per token: the synthetic model emits printable ASCII tokens and never ends early.
                var tokens = 0;
                await foreach (var _ in handle.GenerateStreamingAsync($"Agent {i} asks: summarise the design", new GenerationOptions { MaxTokens = maxTokens, DoSample = false },
                                   context.CancellationToken).ConfigureAwait(false))
                {
                    tokens++;
                }

                return tokens;
            }))).ConfigureAwait(false);
            var elapsed = watch.Elapsed;
            if (counts.Any(c => c != maxTokens))
            {
                lock (shortfalls)
                {
                    shortfalls.Add($"{agents} agents: {string.Join("/", counts)} tokens");
                }
            }

            return counts.Sum() / elapsed.TotalSeconds;
        }

        var samples = await Sampler.RotateAsync(context.Runs, context.WarmUp, context.CancellationToken,
            AgentCounts.Select(n => (Func<Task<double>>)(() => Agents(n))).ToArray()).ConfigureAwait(false);

        var note = $"{maxTokens} greedy tokens per agent on {label}, all agents started together; aggregate = all tokens / wall time (prompts included); parallel {Parallel}, context {ContextLength} per agent, llama.cpp {threadLabel}.";
        if (shortfalls.Count > 0)
        {
            note += " Streams shorter than max_tokens: " + string.Join("; ", shortfalls.Distinct());
        }

        var prefix = threads is { } n2 ? $"concurrency/{label}/threads-{n2}" : $"concurrency/{label}";
        return AgentCounts.Skip(1).Select(n => new Comparison(
            $"{prefix}/{n}-agents",
            "1 agent",
            $"{n} agents, one shared model",
            "tok/s",
            true,
            samples[0],
            samples[Array.IndexOf(AgentCounts, n)],
            n switch { 4 => 2.0, 8 => 2.5, _ => null },
            note)).ToList();
    }
}
