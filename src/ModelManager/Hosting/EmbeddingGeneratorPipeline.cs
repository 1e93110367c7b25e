using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>One <see cref="ModelManagerBuilder.ConfigureEmbeddingGenerators"/> registration: adds middleware to each keyed embedding generator.</summary>
internal sealed class EmbeddingGeneratorPipeline(Action<string, EmbeddingGeneratorBuilder<string, Embedding<float>>> configure)
{
    public void Configure(string key, EmbeddingGeneratorBuilder<string, Embedding<float>> builder) => configure(key, builder);
}
