using System.Diagnostics;
using System.Text;
using LLama;
using LLama.Batched;
using LLama.Common;
using LLama.Native;
using LLama.Sampling;

namespace ModelManager.Benchmarks.Compare;

/// <summary>The baselines: what an app does with LLamaSharp alone.</summary>
internal static class DirectLlama
{
    /// <summary><c>LLamaWeights.LoadFromFile</c> + <c>CreateContext</c>, as an app without the manager loads a model.</summary>
    public static (LLamaWeights Weights, LLamaContext Context) Load(ModelParams parameters)
    {
        var weights = LLamaWeights.LoadFromFile(parameters);
        var context = weights.CreateContext(parameters);
        if (context.NativeHandle.IsInvalid)
        {
            context.Dispose();
            weights.Dispose();
            throw new InvalidOperationException("llama.cpp could not create the context");
        }

        return (weights, context);
    }

    /// <summary>Milliseconds a direct <see cref="Load"/> of <paramref name="setup"/> takes; the model is freed afterwards, untimed.</summary>
    public static double TimeLoad(GgufSetup setup)
    {
        var watch = Stopwatch.StartNew();
        var (weights, context) = Load(setup.Params());
        var ms = watch.Elapsed.TotalMilliseconds;
        context.Dispose();
        weights.Dispose();
        return ms;
    }

    /// <summary>Tokenizes as the gguf backend does: BOS when the vocabulary asks for it, special tokens parsed.</summary>
    public static LLamaToken[] Tokenize(LLamaWeights weights, string text) =>
        weights.Tokenize(text, add_bos: weights.Vocab.ShouldAddBOS, special: true, Encoding.UTF8);

    /// <summary>
    /// Greedy generation of up to <paramref name="maxTokens"/> tokens on one conversation of <paramref name="executor"/>: the
    /// loop LLamaSharp's BatchedExecutor documents (prompt, Infer, Sample, Prompt(token)), decoding text as it goes.
    /// </summary>
    public static async Task<Generated> GenerateAsync(BatchedExecutor executor, string prompt, int maxTokens, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var tokens = Tokenize(executor.Model, prompt);
        using var conversation = executor.Create();
        using var sampler = new GreedySamplingPipeline();
        var decoder = new StreamingTokenDecoder(executor.Context);
        var text = new StringBuilder();
        conversation.Prompt(tokens);
        var count = 0;
        while (count < maxTokens)
        {
            var result = await executor.Infer(cancellationToken).ConfigureAwait(false);
            if (result != DecodeResult.Ok)
            {
                throw new InvalidOperationException($"decode failed: {result}");
            }

            var token = conversation.Sample(sampler);
            if (token.IsEndOfGeneration(executor.Model.Vocab))
            {
                break;
            }

            decoder.Add(token);
            text.Append(decoder.Read());
            count++;
            if (count < maxTokens)
            {
                conversation.Prompt(token);
            }
        }

        text.Append(decoder.Read());
        return new Generated(text.ToString(), count, watch.Elapsed);
    }

    /// <summary>
    /// Greedy generation through LLamaSharp's <see cref="StatelessExecutor"/> (a new context per call), for the record:
    /// the generation pair uses the faster BatchedExecutor loop as its baseline.
    /// </summary>
    public static async Task<Generated> GenerateStatelessAsync(LLamaWeights weights, ModelParams parameters, string prompt, int maxTokens, CancellationToken cancellationToken = default)
    {
        var watch = Stopwatch.StartNew();
        var executor = new StatelessExecutor(weights, parameters);
        var inference = new InferenceParams { MaxTokens = maxTokens, SamplingPipeline = new GreedySamplingPipeline() };
        var text = new StringBuilder();
        var count = 0;
        await foreach (var piece in executor.InferAsync(prompt, inference, cancellationToken).ConfigureAwait(false))
        {
            text.Append(piece);
            count++;
        }

        return new Generated(text.ToString(), count, watch.Elapsed);
    }
}
