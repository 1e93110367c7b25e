using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace ModelManager.Benchmarks.Compare.Pairs;

/// <summary>
/// What the gguf prompt cache saves: time to first token of a conversation's later turns with <c>prompt_cache</c> against
/// the same turns with it off, after an evict and reload with a spill, and for a second agent with the first one's system prompt.
/// </summary>
/// <remarks>
/// Both managers run in one process, one copy of the weights each, turns alternating. The ratios asked for (≤ 0.2, ≤ 0.3)
/// are far outside the 20–25% that weight placement can move decode speed, and time to first token here is prompt
/// evaluation, which is what the cache skips.
/// </remarks>
internal static class PromptCachePair
{
    private const int ContextLength = 2048;
    private const int HistoryTokens = 1000;
    private const int SystemTokens = 500;
    private const int ReplyTokens = 8;

    public static async Task<IReadOnlyList<Comparison>> RunAsync(PairContext context)
    {
        var label = context.Models.SyntheticLabel;
        var spill = Path.Combine(Path.GetTempPath(), "modelmanager-benchmarks", "spill", Guid.NewGuid().ToString("N"));
        await using var cached = await ManagerFixture.CreateAsync(Config(context.Models.Synthetic, $$"""{ "sequences": 4, "spill_path": {{JsonSerializer.Serialize(spill)}} }""")).ConfigureAwait(false);
        await using var plain = await ManagerFixture.CreateAsync(Config(context.Models.Synthetic, "0")).ConfigureAwait(false);
        await cached.Manager.LoadModelAsync("m").ConfigureAwait(false);
        await plain.Manager.LoadModelAsync("m").ConfigureAwait(false);
        var withCache = cached.Manager.GetModel("m");
        var without = plain.Manager.GetModel("m");
        var words = await WordsForAsync(without, HistoryTokens).ConfigureAwait(false);
        var systemWords = await WordsForAsync(without, SystemTokens).ConfigureAwait(false);

        var later = new List<double>[] { [], [] };
        var restored = new List<double>[] { [], [] };
        var loads = new List<double>[] { [], [] };
        var agents = new List<double>[] { [], [] };
        long reusedAfterRestore = 0;
        long reusedBySecondAgent = 0;
        long historyTokens = 0;
        var runs = context.Runs + (context.WarmUp ? 1 : 0);
        for (var run = 0; run < runs; run++)
        {
            var record = run > 0 || !context.WarmUp;
            context.Progress($"prompt cache {label}: conversation {run + 1} of {runs}");

            // A conversation of its own per run (its first words differ), so one run's cache cannot serve the next.
            var prompt = $"Conversation {run}. " + Text(words, run);
            var first = await TurnAsync(withCache, prompt).ConfigureAwait(false);
            await TurnAsync(without, prompt).ConfigureAwait(false);
            historyTokens = first.PromptTokens;
            prompt += first.Reply;
            double withSum = 0;
            double withoutSum = 0;
            for (var turn = 2; turn <= 4; turn++)
            {
                prompt += $" And then {turn}?";
                var a = await TurnAsync(withCache, prompt).ConfigureAwait(false);
                var b = await TurnAsync(without, prompt).ConfigureAwait(false);
                withSum += a.FirstTokenMs;
                withoutSum += b.FirstTokenMs;
                prompt += a.Reply;
            }

            // Evict the cached side (its sequences spill to the folder) and load it again (they are restored).
            await cached.Manager.UnloadModelAsync("m").ConfigureAwait(false);
            var watch = Stopwatch.StartNew();
            await cached.Manager.LoadModelAsync("m").ConfigureAwait(false);
            var loadWith = watch.Elapsed.TotalMilliseconds;
            await plain.Manager.UnloadModelAsync("m").ConfigureAwait(false);
            watch.Restart();
            await plain.Manager.LoadModelAsync("m").ConfigureAwait(false);
            var loadWithout = watch.Elapsed.TotalMilliseconds;
            prompt += " And then 5?";
            var afterWith = await TurnAsync(withCache, prompt).ConfigureAwait(false);
            var afterWithout = await TurnAsync(without, prompt).ConfigureAwait(false);

            // Two agents, one system prompt: the second agent's first turn, after the first agent's.
            var system = $"Agents {run}. " + Text(systemWords, run + 1000);
            await TurnAsync(withCache, system + " First agent asks.").ConfigureAwait(false);
            await TurnAsync(without, system + " First agent asks.").ConfigureAwait(false);
            var secondWith = await TurnAsync(withCache, system + " Second agent asks.").ConfigureAwait(false);
            var secondWithout = await TurnAsync(without, system + " Second agent asks.").ConfigureAwait(false);
            if (!record)
            {
                continue;
            }

            later[0].Add(withoutSum / 3);
            later[1].Add(withSum / 3);
            restored[0].Add(afterWithout.FirstTokenMs);
            restored[1].Add(afterWith.FirstTokenMs);
            loads[0].Add(loadWithout);
            loads[1].Add(loadWith);
            agents[0].Add(secondWithout.FirstTokenMs);
            agents[1].Add(secondWith.FirstTokenMs);
            reusedAfterRestore = afterWith.CachedTokens;
            reusedBySecondAgent = secondWith.CachedTokens;
        }

        var setup = $"{label}, greedy, {ReplyTokens} tokens per reply, context_length {ContextLength}, parallel 1; candidate prompt_cache 4 sequences with a spill folder, baseline prompt_cache 0; both in one process, alternating.";
        return
        [
            new Comparison($"cache/{label}/turns-2-4-first-token", "prompt_cache 0", "prompt_cache on", "ms", false, later[0], later[1], 0.2,
                $"Mean time to first token of turns 2-4 of a conversation whose first prompt has {historyTokens} tokens (each turn adds the reply and a short question). {setup}"),
            new Comparison($"cache/{label}/after-reload-first-token", "prompt_cache 0", "prompt_cache on, restored from the spill", "ms", false, restored[0], restored[1], 0.3,
                $"Turn 5, after UnloadModelAsync and LoadModelAsync of both sides: the cached side saved its sequences at the unload and restored them at the load ({reusedAfterRestore} prompt tokens reused). Load time (ms) without the cache {Stats.Median(loads[0]):F0}, with the restore {Stats.Median(loads[1]):F0}. {setup}"),
            new Comparison($"cache/{label}/second-agent-first-token", "prompt_cache 0", "prompt_cache on", "ms", false, agents[0], agents[1], null,
                $"The second agent's first turn after a first agent's, both starting with the same {SystemTokens}-token system prompt: {reusedBySecondAgent} prompt tokens reused. {setup}"),
        ];
    }

    private static string Config(string path, string cache) => GgufSetup.Config(16384,
        $$"""{ "name": "m", "type": "gguf", "path": {{JsonSerializer.Serialize(path)}}, "context_length": {{ContextLength}}, "parallel": 1, "prompt_cache": {{cache}}, "parameters": { "do_sample": false, "max_tokens": {{ReplyTokens}} } }""");

    /// <summary>How many words of <see cref="Text"/> make about <paramref name="tokens"/> prompt tokens on this model's tokenizer.</summary>
    private static async Task<int> WordsForAsync(ILanguageModel model, int tokens)
    {
        var probe = await model.GenerateResultAsync(Text(200, 0), new GenerationOptions { MaxTokens = 1 }).ConfigureAwait(false);
        return Math.Max(1, (int)(200.0 * tokens / probe.Outcome.PromptTokens!.Value));
    }

    private static string Text(int words, int seed)
    {
        string[] vocabulary = ["the", "little", "dog", "ran", "to", "park", "and", "saw", "a", "big", "red", "ball", "she", "was", "happy", "tree", "bird", "sang", "all", "day"];
        var random = new Random(seed);
        var text = new StringBuilder();
        for (var i = 0; i < words; i++)
        {
            text.Append(vocabulary[random.Next(vocabulary.Length)]).Append(' ');
        }

        return text.ToString();
    }

    private static async Task<(double FirstTokenMs, string Reply, long PromptTokens, long CachedTokens)> TurnAsync(ILanguageModel model, string prompt)
    {
        var watch = Stopwatch.StartNew();
        double? first = null;
        var reply = new StringBuilder();
        GenerationOutcome? outcome = null;
        await foreach (var update in model.GenerateUpdatesAsync(prompt, new GenerationOptions { MaxTokens = ReplyTokens }).ConfigureAwait(false))
        {
            first ??= watch.Elapsed.TotalMilliseconds;
            reply.Append(update.Text);
            outcome = update.Outcome ?? outcome;
        }

        return (first ?? watch.Elapsed.TotalMilliseconds, reply.ToString(), outcome?.PromptTokens ?? 0, outcome?.CachedPromptTokens ?? 0);
    }
}
