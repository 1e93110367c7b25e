using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.IntegrationTests;

/// <summary>Embeddings of a GGUF model through LLamaEmbedder, when its config asks for them, on stories260K.</summary>
public sealed class GgufEmbeddingTests
{
    private const string Stories = "stories260K/stories260K.gguf";

    [SharedModelFact(Stories)]
    public async Task ChatModel_AskedForEmbeddings_ServesBoth_AndIsChargedForBoth()
    {
        var (services, manager) = GgufManagers.Create($$"""
            { "max_memory_mb": 512, "models": [
                {{GgufManagers.Stories("both", extra: "\"capabilities\": [\"chat\", \"embeddings\"]")}},
                {{GgufManagers.Stories("chat")}} ] }
            """);
        await using var scope = services;
        var generator = services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("both");

        var result = await generator.GenerateAsync(["Once upon a time", "Once upon a time", "Lily played in the park."]);

        Assert.All(result, e => Assert.Equal(64, e.Vector.Length)); // stories260K's embedding length
        Assert.All(result, e => Assert.Equal("both", e.ModelId));
        Assert.All(result, e => Assert.Equal(1.0, Math.Sqrt(e.Vector.ToArray().Sum(v => (double)v * v)), 1e-4));
        Assert.Equal(result[0].Vector.ToArray(), result[1].Vector.ToArray());
        Assert.True(EmbeddingManagers.Cosine(result[0], result[2]) < 0.9999);
        Assert.True(result.Usage!.InputTokenCount >= 3 * 2, $"{result.Usage.InputTokenCount} tokens");
        Assert.Equal(64, generator.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelDimensions);

        var text = await manager.GetModel("both").GenerateAsync("Once upon a time", new GenerationOptions { MaxTokens = 16, DoSample = false });
        Assert.StartsWith(", there was a little girl", text, StringComparison.Ordinal);

        await manager.LoadModelAsync("chat");
        var stats = manager.GetModelStats();
        Assert.True(stats["both"].EstimatedBytes > stats["chat"].EstimatedBytes, $"{stats["both"].EstimatedBytes} vs {stats["chat"].EstimatedBytes}");
        Assert.True(stats["both"].ActualBytes > stats["chat"].ActualBytes, $"{stats["both"].ActualBytes} vs {stats["chat"].ActualBytes}");
    }

    [SharedModelFact(Stories)]
    public async Task ChatModel_NotAskedForEmbeddings_IsNotSupported_NamingIt()
    {
        var (services, manager) = GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Stories("stories")}} ] }""");
        await using var scope = services;

        Assert.Equal(ModelCapabilities.Chat, manager.GetModels().Single().Capabilities);
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => manager.GetEmbeddingGenerator("stories").GenerateAsync(["x"]));
        Assert.Contains("'stories'", error.Message, StringComparison.Ordinal);
        Assert.Contains("set 'capabilities'", error.Message, StringComparison.Ordinal);
    }

    [SharedModelFact(Stories)]
    public async Task TextLongerThanTheEmbeddingContext_IsContextLengthExceeded_AndTheModelStillServes()
    {
        var (services, manager) = GgufManagers.Create($$"""
            { "max_memory_mb": 512, "models": [ {{GgufManagers.Stories("both", extra: "\"capabilities\": [\"chat\", \"embeddings\"]")}} ] }
            """);
        await using var scope = services;
        var generator = manager.GetEmbeddingGenerator("both");

        var error = await Assert.ThrowsAsync<ContextLengthExceededException>(() => generator.GenerateAsync([string.Join(' ', Enumerable.Repeat("Lily", 400))]));
        Assert.Equal(256, error.ContextLength);
        Assert.Contains("'both'", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<ContextLengthExceededException>(() => generator.GenerateAsync([new string('x', 10_000_000)]));

        Assert.Equal(64, (await generator.GenerateAsync(["", "x\uD800y"])).First().Vector.Length);
        await Assert.ThrowsAsync<NotSupportedException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 32 }));
    }

    [Theory]
    [InlineData("llama", true, false)]
    [InlineData("bert", false, true)]
    [InlineData("nomic-bert", false, true)]
    [InlineData("llama", false, false)]
    public void IsEmbeddingModel_ByPoolingTypeOrEncoderArchitecture(string architecture, bool poolingKey, bool encoder)
    {
        var metadata = new Dictionary<string, string> { ["general.architecture"] = architecture };
        if (poolingKey)
        {
            metadata[$"{architecture}.pooling_type"] = "1";
        }

        var info = new GgufModelInfo
        {
            FilePath = "x.gguf",
            FileSize = 0,
            Version = 3,
            Alignment = 32,
            DataOffset = 0,
            Architecture = architecture,
            TensorBytes = 0,
            Tensors = [],
            Metadata = metadata,
        };

        Assert.Equal(poolingKey || encoder, LlamaSharpEmbedder.IsEmbeddingModel(info));
    }

    [SharedModelFact(Stories)]
    public async Task DetectCapabilities_ChatGguf_IsChat_AndAnUnreadableFileDoesNotThrow()
    {
        var corrupt = Path.Combine(TestCache.NewScratchDirectory(), "bad.gguf");
        await File.WriteAllBytesAsync(corrupt, [0x47, 0x47, 0x55, 0x58, 3, 0, 0, 0]);
        var (services, manager) = GgufManagers.Create($$"""
            { "max_memory_mb": 512, "models": [ {{GgufManagers.Stories("stories")}}, {{GgufManagers.Gguf("bad", corrupt)}}, {{GgufManagers.Gguf("missing", "/nonexistent/x.gguf")}} ] }
            """);
        await using var scope = services;

        Assert.All(manager.GetModels(), m => Assert.Equal(ModelCapabilities.Chat, m.Capabilities));
        Assert.All(manager.GetModels(), m => Assert.False(m.CapabilitiesDeclared));
    }
}
