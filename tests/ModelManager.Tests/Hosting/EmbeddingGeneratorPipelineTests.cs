using Microsoft.Extensions.AI;

namespace ModelManager.Tests;

public sealed class EmbeddingGeneratorPipelineTests
{
    private const string Json = """
        { "max_memory_mb": 100,
          "models": [
            { "name": "embed", "type": "fake", "capabilities": ["embeddings"], "parameters": { "size_mb": 1 } },
            { "name": "both", "type": "fake", "capabilities": ["chat", "embeddings"], "parameters": { "size_mb": 1 } },
            { "name": "chat", "type": "fake", "parameters": { "size_mb": 1 }, "fallbacks": ["embed"] } ],
          "agents": { "Memory": { "model": "embed" } } }
        """;

    [Fact]
    public async Task ConfigureEmbeddingGenerators_WrapsEveryKeyedGenerator_WithItsKey_InOrder()
    {
        var seen = new List<string>();
        await using var sp = Build(b => b
            .ConfigureEmbeddingGenerators((key, g) => g.Use(Recording(seen, $"first:{key}")))
            .ConfigureEmbeddingGenerators((key, g) => g.Use(Recording(seen, $"second:{key}"))));

        var memory = sp.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("Memory");
        var both = sp.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("both");
        var result = await memory.GenerateAsync(["one two three", "four"]);
        await both.GenerateAsync(["one"]);

        Assert.Equal(["first:Memory", "second:Memory", "first:both", "second:both"], seen);
        Assert.All(result, e => Assert.Equal("embed", e.ModelId));
        Assert.Equal(4, result.Usage!.InputTokenCount);
        Assert.Equal("embed", memory.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelId);
        Assert.Equal("modelmanager", memory.GetService<EmbeddingGeneratorMetadata>()!.ProviderName);
        Assert.Equal(8, memory.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelDimensions);
        Assert.Same(memory, sp.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("Memory"));
    }

    [Fact]
    public async Task EmbeddingsFromAChatOnlyModel_AndChatFromAnEmbeddingOnlyModel_AreNotSupported_BeforeLoading()
    {
        await using var sp = Build();
        var manager = sp.GetRequiredService<IModelManager>();

        // "chat" has an embeddings-only fallback: a chain does not turn a chat model into an embedding model.
        var embedChat = await Assert.ThrowsAsync<NotSupportedException>(() => manager.GetEmbeddingGenerator("chat").GenerateAsync(["x"]));
        Assert.Contains("Model 'chat' does not serve embeddings", embedChat.Message, StringComparison.Ordinal);
        Assert.Contains("[\"chat\"] (detected", embedChat.Message, StringComparison.Ordinal);
        var chatEmbed = await Assert.ThrowsAsync<NotSupportedException>(() => sp.GetRequiredKeyedService<IChatClient>("Memory").GetResponseAsync("x"));
        Assert.Contains("Model 'embed' (the model of 'Memory') does not serve chat", chatEmbed.Message, StringComparison.Ordinal);
        Assert.Contains("(configured)", chatEmbed.Message, StringComparison.Ordinal);
        Assert.All(manager.GetModelStats().Values, s => Assert.Equal(0, s.LoadCount));

        // A model that serves both does both, from one load.
        await manager.GetModel("both").GenerateAsync("one", new GenerationOptions { MaxTokens = 2 });
        await manager.GetEmbeddingGenerator("both").GenerateAsync(["one"]);
        Assert.Equal(1, manager.GetModelStats()["both"].LoadCount);
        Assert.Equal(2, manager.GetModelStats()["both"].AccessCount);
    }

    [Fact]
    public async Task UnhonourableOptions_AreErrors_AndNothingLoads()
    {
        await using var sp = Build();
        var manager = sp.GetRequiredService<IModelManager>();
        var generator = manager.GetEmbeddingGenerator("embed");

        await Assert.ThrowsAsync<NotSupportedException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { ModelId = "other" }));
        await Assert.ThrowsAsync<NotSupportedException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { AdditionalProperties = new() { ["user"] = "u" } }));
        await Assert.ThrowsAsync<NotSupportedException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { RawRepresentationFactory = _ => null }));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = -1 }));
        Assert.Equal(0, manager.GetModelStats()["embed"].LoadCount);

        var wrongSize = await Assert.ThrowsAsync<NotSupportedException>(() => generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 16 }));
        Assert.Contains("'embed'", wrongSize.Message, StringComparison.Ordinal);
        Assert.Equal(0, manager.GetModelStats()["embed"].ActiveLeases);
    }

    [Theory]
    [InlineData("""["vision"]""", "models[0].capabilities[0]: unknown capability 'vision'")]
    [InlineData("""[]""", "models[0].capabilities: must name at least one")]
    public void Capabilities_Invalid_AreConfigurationErrorsNamingThePath(string capabilities, string expected)
    {
        var json = $$"""{ "max_memory_mb": 100, "models": [ { "name": "m", "type": "fake", "capabilities": {{capabilities}} } ] }""";

        var error = Assert.Throws<ModelConfigurationException>(() => TestManagers.FromJson(json));

        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Capabilities_AString_IsOneCapability()
    {
        var (manager, _) = TestManagers.FromJson("""{ "max_memory_mb": 100, "models": [ { "name": "m", "type": "fake", "capabilities": "embeddings" } ] }""");
        using var _ = manager;

        Assert.Equal(ModelCapabilities.Embeddings, manager.GetModels().Single().Capabilities);
        Assert.True(manager.GetModels().Single().CapabilitiesDeclared);
    }

    private static ServiceProvider Build(Action<ModelManagerBuilder>? configure = null)
    {
        var services = new ServiceCollection();
        var builder = services.AddModelManager(o => ModelConfigurationLoader.LoadJson(System.Text.Encoding.UTF8.GetBytes(Json), "test.json", o)).AddFakeBackend();
        configure?.Invoke(builder);
        return services.BuildServiceProvider();
    }

    private static Func<IEmbeddingGenerator<string, Embedding<float>>, IEmbeddingGenerator<string, Embedding<float>>> Recording(List<string> seen, string name) =>
        inner => new RecordingGenerator(inner, seen, name);

    private sealed class RecordingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner, List<string> seen, string name)
        : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
    {
        public override Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null, CancellationToken cancellationToken = default)
        {
            seen.Add(name);
            return base.GenerateAsync(values, options, cancellationToken);
        }
    }
}
