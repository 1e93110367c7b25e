using System.Diagnostics;
using LLama;
using LLama.Batched;
using Microsoft.Extensions.AI;

namespace ModelManager.Benchmarks.Compare.Pairs;

/// <summary>Greedy tokens/s through a managed handle and its chat client vs LLamaSharp's BatchedExecutor on one conversation.</summary>
internal static class GenerationPair
{
    public const int ContextLength = 512;
    public const int Parallel = 4;
    public const string Prompt = "Once upon a time";

    public static async Task<IReadOnlyList<Comparison>> RunAsync(PairContext context)
    {
        var results = new List<Comparison>();
        var quick = context.Options.Quick;
        foreach (var (label, path, maxTokens) in new[]
                 {
                     ("stories260K", context.Models.Stories260K, quick ? 16 : 200),
                     (context.Models.SyntheticLabel, context.Models.Synthetic, quick ? 8 : 48),
                 })
        {
            context.Progress($"generation {label}: {maxTokens} tokens");
            results.AddRange(await MeasureModelAsync(context, label, new GgufSetup(path, ContextLength, Parallel), maxTokens).ConfigureAwait(false));
        }

        return results;
    }

    private static async Task<IReadOnlyList<Comparison>> MeasureModelAsync(PairContext context, string label, GgufSetup setup, int maxTokens)
    {
        await using var fixture = await ManagerFixture.CreateAsync(GgufSetup.Config(16384, setup.Json("m", maxTokens))).ConfigureAwait(false);
        await fixture.Manager.LoadModelAsync("m").ConfigureAwait(false);
        var handle = fixture.Manager.GetModel("m");
        var chat = handle.AsChatClient();

        var parameters = setup.Params();
        var notes = new List<string>();
        var copyNote = "";
        var shared = await ManagedInternals.GgufWeightsAsync(fixture.Manager, "m").ConfigureAwait(false);
        using var own = shared is null ? LLamaWeights.LoadFromFile(parameters) : null;
        if (own is not null)
        {
            copyNote = " The baseline loaded its own copy of the weights (the manager's could not be reached).";
        }

        var weights = shared ?? own!;
        using var executor = new BatchedExecutor(weights, parameters);

        // The manager's chat client formats a template-less model as "User: ...\nAssistant:"; the baseline gets the same text.
        var chatPrompt = $"User: {Prompt}\nAssistant:";
        var reference = await DirectLlama.GenerateAsync(executor, Prompt, maxTokens, context.CancellationToken).ConfigureAwait(false);
        var chatReference = await DirectLlama.GenerateAsync(executor, chatPrompt, maxTokens, context.CancellationToken).ConfigureAwait(false);

        async Task<double> Direct(string prompt) => (await DirectLlama.GenerateAsync(executor, prompt, maxTokens, context.CancellationToken).ConfigureAwait(false)).TokensPerSecond;

        async Task<double> Handle()
        {
            var watch = Stopwatch.StartNew();
            var text = await handle.GenerateAsync(Prompt, new GenerationOptions { MaxTokens = maxTokens, DoSample = false }, context.CancellationToken).ConfigureAwait(false);
            var elapsed = watch.Elapsed;
            return Count(text, reference, weights, "handle", notes) / elapsed.TotalSeconds;
        }

        async Task<double> Chat()
        {
            var watch = Stopwatch.StartNew();
            var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, Prompt)], new ChatOptions { MaxOutputTokens = maxTokens, Temperature = 0 }, context.CancellationToken).ConfigureAwait(false);
            var elapsed = watch.Elapsed;
            return Count(response.Text, chatReference, weights, "chat", notes) / elapsed.TotalSeconds;
        }

        var samples = await Sampler.RotateAsync(context.Runs, context.WarmUp, context.CancellationToken,
            () => Direct(Prompt), Handle, () => Direct(chatPrompt), Chat).ConfigureAwait(false);

        var stateless = new List<double>();
        var batched = new List<double>();
        if (!context.Options.Quick)
        {
            // For the record: LLamaSharp's StatelessExecutor (a new context per call) against the BatchedExecutor loop used as the baseline.
            var pair = await Sampler.RotateAsync(Math.Max(3, context.Runs / 2), warmUp: true, context.CancellationToken,
                () => Direct(Prompt),
                async () => (await DirectLlama.GenerateStatelessAsync(weights, parameters, Prompt, maxTokens, context.CancellationToken).ConfigureAwait(false)).TokensPerSecond).ConfigureAwait(false);
            batched = pair[0];
            stateless = pair[1];
        }

        var common = $"Greedy, {reference.Tokens} tokens after \"{Prompt}\" (prompt processing and detokenizing included), context {setup.ContextLength} x parallel {setup.Parallel}, same ModelParams; baseline: one Conversation of a BatchedExecutor (its own context) on the LLamaWeights the manager loaded, reused across runs: LLamaSharp's fastest loop here.";
        var mismatch = notes.Count > 0 ? " Output differed from the baseline's: " + string.Join("; ", notes.Distinct()) : " Output identical to the baseline's.";
        mismatch += copyNote;
        var rows = new List<Comparison>
        {
            new($"generation/{label}/handle", "BatchedExecutor, 1 conversation", "ILanguageModel.GenerateAsync", "tok/s", true, samples[0], samples[1], 0.97, common + mismatch),
            new($"generation/{label}/chat", "BatchedExecutor, 1 conversation (same chat prompt)", "AsChatClient().GetResponseAsync", "tok/s", true, samples[2], samples[3], 0.97,
                $"As above on the prompt the chat client builds for a model without a chat template (\"User: {Prompt}\\nAssistant:\", {chatReference.Tokens} tokens)." + mismatch),
        };
        if (stateless.Count > 0)
        {
            rows.Add(new($"generation/{label}/stateless-executor", "BatchedExecutor, 1 conversation", "StatelessExecutor.InferAsync", "tok/s", true, batched, stateless, null,
                "Why the baseline is the BatchedExecutor loop: LLamaSharp's StatelessExecutor creates a context per call (informational, no target)."));
        }

        return rows;
    }

    /// <summary>Tokens the candidate produced: the baseline's count when the text is the same (greedy), else the text re-tokenized.</summary>
    private static int Count(string text, Generated reference, LLamaWeights weights, string what, List<string> notes)
    {
        if (string.Equals(text, reference.Text, StringComparison.Ordinal))
        {
            return reference.Tokens;
        }

        lock (notes)
        {
            notes.Add($"{what}: {text.Length} chars vs {reference.Text.Length}");
        }

        return weights.Tokenize(text, add_bos: false, special: false, System.Text.Encoding.UTF8).Length;
    }
}
