using System.Diagnostics;

namespace ModelManager.Benchmarks.Compare.Pairs;

/// <summary>
/// Reloading an evicted model, under a budget that holds one of two models, against a direct load of the same file and
/// against the manager's first load of it; plus a full swap (evict the other model, then reload). Models are set up as
/// in <see cref="LoadPair"/>, so that the two pairs' direct loads are the same measurement.
/// </summary>
internal static class SwapPair
{
    public static async Task<IReadOnlyList<Comparison>> RunAsync(PairContext context)
    {
        var label = context.Models.SyntheticLabel;
        context.Progress($"swap {label}: evict + reload");
        var a = new GgufSetup(context.Models.Synthetic, LoadPair.ContextLength, LoadPair.Parallel);
        var b = a with { Path = context.Models.SyntheticB };

        // A budget of 1.5 models: b cannot load beside a, so the manager must evict a first (and the other way round).
        long budgetMb;
        await using (var probe = await ManagerFixture.CreateAsync(GgufSetup.Config(16384, a.Json("a", 8))).ConfigureAwait(false))
        {
            await probe.Manager.LoadModelAsync("a").ConfigureAwait(false);
            budgetMb = (long)Math.Ceiling(probe.Manager.GetModelStats()["a"].EstimatedBytes * 1.5 / (1 << 20));
        }

        var config = GgufSetup.Config(budgetMb, a.Json("a", 8), b.Json("b", 8));
        var direct = new List<double>();
        var first = new List<double>();
        var reload = new List<double>();
        var swap = new List<double>();
        var evictions = 0;
        var warmUps = context.WarmUp ? 1 : 0;
        for (var run = 0; run < warmUps + context.Runs; run++)
        {
            context.CancellationToken.ThrowIfCancellationRequested();
            var record = run >= warmUps;
            var directFirst = run % 2 == 0;
            var d = directFirst ? DirectLlama.TimeLoad(a) : 0;
            double f, r, s;
            await using (var fixture = await ManagerFixture.CreateAsync(config).ConfigureAwait(false))
            {
                var manager = fixture.Manager;
                manager.ModelEvent += (_, e) =>
                {
                    if (e.Kind == ModelEventKind.Evicted && record)
                    {
                        Interlocked.Increment(ref evictions);
                    }
                };
                f = await TimeAsync(() => manager.LoadModelAsync("a")).ConfigureAwait(false); // first load
                await manager.LoadModelAsync("b").ConfigureAwait(false);                         // evicts a (Capacity)
                await manager.UnloadModelAsync("b").ConfigureAwait(false);                       // room for a, untimed
                r = await TimeAsync(() => manager.LoadModelAsync("a")).ConfigureAwait(false);  // reload of the evicted a
                await manager.LoadModelAsync("b").ConfigureAwait(false);                         // evicts a again
                s = await TimeAsync(() => manager.LoadModelAsync("a")).ConfigureAwait(false);  // evicts b, reloads a
            }

            if (!directFirst)
            {
                d = DirectLlama.TimeLoad(a);
            }

            if (record)
            {
                direct.Add(d);
                first.Add(f);
                reload.Add(r);
                swap.Add(s);
            }
        }

        var setting = $"Budget {budgetMb} MB holds one of two {label} models (context {a.ContextLength} x parallel {a.Parallel}); files in the page cache; {evictions} Capacity evictions in the recorded runs.";
        return
        [
            new Comparison($"swap/{label}/reload-vs-direct-load", "LLamaWeights.LoadFromFile + CreateContext", "manager reload after eviction", "ms", false, direct, reload, 1.1,
                setting + " Candidate: LoadModelAsync of a model the manager evicted, with room free."),
            new Comparison($"swap/{label}/reload-vs-first-load", "manager first load", "manager reload after eviction", "ms", false, first, reload, null,
                setting + " The same model's first load in a fresh manager against its reload after eviction."),
            new Comparison($"swap/{label}/evict-and-reload-vs-direct-load", "LLamaWeights.LoadFromFile + CreateContext", "manager evict other + reload", "ms", false, direct, swap, null,
                setting + " Candidate: LoadModelAsync(a) while b is loaded and idle: b is evicted (its memory freed) before a loads, as the budget requires."),
        ];
    }

    private static async Task<double> TimeAsync(Func<Task> action)
    {
        var watch = Stopwatch.StartNew();
        await action().ConfigureAwait(false);
        return watch.Elapsed.TotalMilliseconds;
    }
}
