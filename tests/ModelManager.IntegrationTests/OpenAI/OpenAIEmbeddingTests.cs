using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>An openai model's embeddings through <c>/v1/embeddings</c>: the ModelServer sample serving MiniLM is the remote server.</summary>
public sealed class OpenAIEmbeddingTests
{
    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task RemoteModel_Embeds_ThroughTheOpenAISdk_WithUsageAndTheConfiguredName()
    {
        await using var server = await ModelServerHost.StartAsync($$"""{ "max_memory_mb": 1024, "models": [ {{EmbeddingManagers.Encoder("minilm", EmbeddingManagers.MiniLm)}} ] }""");
        var (services, manager) = EmbeddingManagers.Create($$"""
            { "max_memory_mb": 64, "models": [
                { "name": "remote", "type": "openai", "path": {{JsonSerializer.Serialize(server.V1.ToString())}}, "model": "minilm", "max_retries": 0, "capabilities": ["embeddings"] },
                { "name": "remote-chat", "type": "openai", "path": {{JsonSerializer.Serialize(server.V1.ToString())}}, "model": "minilm", "max_retries": 0 } ] }
            """, b => b.AddOpenAI());
        await using var scope = services;
        var generator = services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("remote");

        var result = await generator.GenerateAsync(["Once upon a time", "A man is playing a guitar."]);
        var local = await server.Manager.GetEmbeddingGenerator("minilm").GenerateAsync(["Once upon a time", "A man is playing a guitar."]);

        Assert.All(result, e => Assert.Equal("remote", e.ModelId));
        Assert.Equal("minilm", result[0].AdditionalProperties?["remote_model"]);
        Assert.Equal(local[0].Vector.ToArray(), result[0].Vector.ToArray());
        Assert.Equal(local.Usage!.InputTokenCount, result.Usage?.InputTokenCount);
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>()!;
        Assert.Equal(server.V1, metadata.ProviderUri);
        Assert.Equal("remote", metadata.DefaultModelId);

        // A size the remote model cannot make is the server's 400, not a silently different vector.
        var error = await Assert.ThrowsAsync<ModelEndpointException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 128 }));
        Assert.Equal(400, error.StatusCode);
        Assert.Contains("dimensions", error.Message, StringComparison.OrdinalIgnoreCase);

        // Without capabilities an openai model is a chat model.
        await Assert.ThrowsAsync<NotSupportedException>(() => manager.GetEmbeddingGenerator("remote-chat").GenerateAsync(["x"]));
    }
}
