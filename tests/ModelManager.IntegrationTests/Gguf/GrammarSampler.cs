using System.Text;
using LLama;
using LLama.Common;
using LLama.Sampling;

namespace ModelManager.IntegrationTests;

/// <summary>Samples stories260K under a GBNF grammar with LLamaSharp's own executor, to check grammars in llama.cpp apart from the backend.</summary>
internal static class GrammarSampler
{
    public static LLamaWeights LoadStories() =>
        LLamaWeights.LoadFromFile(new ModelParams(SharedModels.Stories260K) { GpuLayerCount = 0 });

    /// <summary>Samples after "Once upon a time" under <paramref name="gbnf"/> (greedy for seed 0); the piece count stays below <paramref name="maxTokens"/> only when the grammar completed.</summary>
    public static async Task<(string Text, int Pieces)> GenerateAsync(LLamaWeights weights, string gbnf, uint seed, int maxTokens, uint contextSize)
    {
        var executor = new StatelessExecutor(weights, new ModelParams(SharedModels.Stories260K) { ContextSize = contextSize, GpuLayerCount = 0 });
        var grammar = new Grammar(gbnf, JsonSchemaGrammar.RootRule);
        using BaseSamplingPipeline pipeline = seed == 0 ? new GreedySamplingPipeline { Grammar = grammar } : new DefaultSamplingPipeline { Grammar = grammar, Seed = seed };
        var parameters = new InferenceParams { MaxTokens = maxTokens, SamplingPipeline = pipeline };
        var text = new StringBuilder();
        int pieces = 0;
        await foreach (var piece in executor.InferAsync("Once upon a time", parameters))
        {
            text.Append(piece);
            pieces++;
        }

        return (text.ToString(), pieces);
    }
}
