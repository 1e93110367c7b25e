using System.Diagnostics;
using System.Text.Json;

namespace ModelManager.Benchmarks.Compare.Pairs;

/// <summary>Greedy tokens/s of the ONNX backend through a managed handle vs ONNX Runtime GenAI's own Generator loop.</summary>
internal static class OnnxPair
{
    /// <summary>Its ids stay inside the tiny model's 1000-token vocabulary (shared/models/README.md).</summary>
    public const string Prompt = "a b c d";

    public static async Task<IReadOnlyList<Comparison>> RunAsync(PairContext context)
    {
        var maxTokens = context.Options.Quick ? 16 : 500; // the context holds 512: the prompt (4) and 500 tokens
        context.Progress($"onnx tiny-random-gpt2-fp32: {maxTokens} tokens");
        var config = $$"""{ "max_memory_mb": 4096, "models": [ { "name": "gpt2", "type": "onnx", "path": {{JsonSerializer.Serialize(context.Models.TinyGpt2)}}, "parameters": { "do_sample": false, "max_tokens": {{maxTokens}} } } ] }""";
        await using var fixture = await ManagerFixture.CreateAsync(config).ConfigureAwait(false);
        await fixture.Manager.LoadModelAsync("gpt2").ConfigureAwait(false);
        var handle = fixture.Manager.GetModel("gpt2");

        // Runs are short (tens of milliseconds): take more of them, so the median is stable.
        var runs = context.Options.Quick ? context.Runs : context.Runs * 5;
        List<double>[] samples;
        Generated reference;
        var notes = new List<string>();
        var shared = await ManagedInternals.OnnxModelAsync(fixture.Manager, "gpt2").ConfigureAwait(false);
        using (var direct = shared is { } s ? new DirectOnnx(s.Model, s.Tokenizer) : new DirectOnnx(context.Models.TinyGpt2))
        {
            if (direct.OwnsModel)
            {
                notes.Add("the baseline loaded its own copy of the model (the manager's could not be reached)");
            }

            reference = direct.Generate(Prompt, maxTokens);
            samples = await Sampler.RotateAsync(runs, context.WarmUp, context.CancellationToken,
                () => Task.FromResult(direct.Generate(Prompt, maxTokens).TokensPerSecond),
                async () =>
                {
                    var watch = Stopwatch.StartNew();
                    var text = await handle.GenerateAsync(Prompt, new GenerationOptions { MaxTokens = maxTokens, DoSample = false }, context.CancellationToken).ConfigureAwait(false);
                    var elapsed = watch.Elapsed;
                    if (!string.Equals(text, reference.Text, StringComparison.Ordinal))
                    {
                        notes.Add($"output differs from the baseline's ({text.Length} vs {reference.Text.Length} chars)");
                    }

                    return reference.Tokens / elapsed.TotalSeconds;
                },
                () => Task.Factory.StartNew(() => direct.Generate(Prompt, maxTokens).TokensPerSecond, context.CancellationToken,
                    TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default)).ConfigureAwait(false);
        }

        return
        [
            new Comparison("generation/tiny-random-gpt2-fp32/onnx-handle", "OGA Generator loop + TokenizerStream", "ILanguageModel.GenerateAsync (type onnx)", "tok/s", true,
                samples[0], samples[1], 0.97,
                $"Greedy, {reference.Tokens} tokens after \"{Prompt}\", CPU; both decode text token by token; the baseline runs its own Generators on the Model and Tokenizer the manager loaded." +
                (notes.Count > 0 ? " " + string.Join("; ", notes.Distinct()) : " Output identical to the baseline's.")),
            new Comparison("generation/tiny-random-gpt2-fp32/onnx-new-thread", "OGA Generator loop + TokenizerStream", "the same loop on a new thread per call", "tok/s", true,
                samples[0], samples[2], null,
                "Informational: the backend runs each generation on a thread of its own (TaskCreationOptions.LongRunning) and streams tokens through a channel; this row is the baseline loop alone on such a thread, i.e. the part of the handle's cost that comes from that design."),
        ];
    }
}
