using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager.Benchmarks.Compare.Pairs;

/// <summary>What constrained decoding costs: greedy tokens/s of one chat client with a JSON schema vs without, on the same loaded model.</summary>
/// <remarks>Both sides run in one process on one copy of the weights, alternating, so placement (4 KB vs huge pages) cannot favour either.</remarks>
internal static class StructuredPair
{
    private const string Prompt = "Tell me about a toy.";

    private const string Schema = """
        {"type":"object","properties":{"name":{"type":"string"},"count":{"type":"integer"},"colour":{"enum":["red","green","blue"]},"parts":{"type":"array","items":{"type":"object","properties":{"label":{"type":"string"},"weight":{"type":"number"}},"required":["label","weight"]}}},"required":["name","count","colour","parts"]}
        """;

    public static async Task<IReadOnlyList<Comparison>> RunAsync(PairContext context)
    {
        var results = new List<Comparison>();
        var quick = context.Options.Quick;

        // A real model's vocabulary (32,000 tokens, like Llama 2 and Mistral): when the grammar rejects the first pick, masking costs a pass over it.
        var wide = SyntheticGgufWriter.GetOrCreate(context.Options.CacheDirectory,
            new SyntheticGgufOptions { TargetBytes = quick ? BenchModels.QuickSyntheticBytes : 64L << 20, Seed = 3, VocabularySize = 32_000, Name = "bench-vocab" });
        foreach (var (label, path, maxTokens) in new[]
                 {
                     ("stories260K", context.Models.Stories260K, quick ? 16 : 200),
                     (context.Models.SyntheticLabel, context.Models.Synthetic, quick ? 8 : 48),
                     ($"synthetic-{(quick ? BenchModels.QuickSyntheticBytes : 64L << 20) >> 20}MB-vocab32k", wide, quick ? 8 : 48),
                 })
        {
            context.Progress($"structured {label}: {maxTokens} tokens");
            results.Add(await MeasureAsync(context, label, new GgufSetup(path, GenerationPair.ContextLength, GenerationPair.Parallel), maxTokens).ConfigureAwait(false));
        }

        return results;
    }

    private static async Task<Comparison> MeasureAsync(PairContext context, string label, GgufSetup setup, int maxTokens)
    {
        await using var fixture = await ManagerFixture.CreateAsync(GgufSetup.Config(16384, setup.Json("m", maxTokens))).ConfigureAwait(false);
        await fixture.Manager.LoadModelAsync("m").ConfigureAwait(false);
        var chat = fixture.Manager.GetModel("m").AsChatClient();
        using var schema = JsonDocument.Parse(Schema);
        var format = ChatResponseFormat.ForJsonSchema(schema.RootElement.Clone(), "toy");
        var tokens = new List<int>[] { [], [] };

        async Task<double> Measure(ChatResponseFormat? responseFormat, List<int> counts)
        {
            var options = new ChatOptions { MaxOutputTokens = maxTokens, Temperature = 0, ResponseFormat = responseFormat };
            var watch = Stopwatch.StartNew();
            var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, Prompt)], options, context.CancellationToken).ConfigureAwait(false);
            var generated = (int)response.Usage!.OutputTokenCount!.Value;
            counts.Add(generated);
            return generated / watch.Elapsed.TotalSeconds;
        }

        var samples = await Sampler.RotateAsync(context.Runs, context.WarmUp, context.CancellationToken,
            () => Measure(null, tokens[0]), () => Measure(format, tokens[1])).ConfigureAwait(false);
        return new Comparison($"structured/{label}/json-schema", "chat client, text", "chat client, ResponseFormat = a JSON schema", "tok/s", true, samples[0], samples[1], 0.8,
            $"Greedy, at most {maxTokens} tokens after the chat prompt \"{Prompt}\" (prompt processing included), one model loaded once, both sides alternating in one process; " +
            $"tokens per call: text {Stats.Median(tokens[0].Select(t => (double)t).ToList()):F0}, schema {Stats.Median(tokens[1].Select(t => (double)t).ToList()):F0} " +
            "(the schema's grammar may end the value before max_tokens). The schema (an object with a string, an integer, an enum and an array of objects) is converted once and cached.");
    }
}
