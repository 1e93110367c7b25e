using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.IntegrationTests;

/// <summary>What a model serves, fallbacks, leases and stats of embedding calls, on the real MiniLM encoder.</summary>
public sealed class EmbeddingBehaviourTests
{
    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task Chat_OnAnEncoder_IsNotSupported_NamingTheModel_BeforeItLoads()
    {
        var (services, manager) = EmbeddingManagers.CreateMiniLm();
        await using var scope = services;

        Assert.Equal(ModelCapabilities.Embeddings, manager.GetModels().Single().Capabilities);
        Assert.False(manager.GetModels().Single().CapabilitiesDeclared);
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => services.GetRequiredKeyedService<IChatClient>("Memory").GetResponseAsync("hello"));
        Assert.Contains("'minilm'", error.Message, StringComparison.Ordinal);
        Assert.Contains("embeddings", error.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<NotSupportedException>(() => manager.GetModel("minilm").GenerateAsync("hello"));
        Assert.Equal(0, manager.GetModelStats()["minilm"].LoadCount);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task Embeddings_OnAGenerativeOnnxFolder_AreNotSupported_NamingTheModel_BeforeItLoads()
    {
        var (services, manager) = EmbeddingManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("tiny", OnnxManagers.TinyGpt2)}} ] }""");
        await using var scope = services;

        Assert.Equal(ModelCapabilities.Chat, manager.GetModels().Single().Capabilities);
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => manager.GetEmbeddingGenerator("tiny").GenerateAsync(["a b c d"]));
        Assert.Contains("'tiny'", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, manager.GetModelStats()["tiny"].LoadCount);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task DeclaredCapabilities_OverrideDetection()
    {
        var (services, manager) = EmbeddingManagers.Create($$"""
            { "max_memory_mb": 1024, "models": [ {{EmbeddingManagers.Encoder("minilm", EmbeddingManagers.MiniLm, extra: "\"capabilities\": [\"chat\"]")}} ] }
            """);
        await using var scope = services;

        var descriptor = manager.GetModels().Single();
        Assert.Equal(ModelCapabilities.Chat, descriptor.Capabilities);
        Assert.True(descriptor.CapabilitiesDeclared);
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => manager.GetEmbeddingGenerator("minilm").GenerateAsync(["x"]));
        Assert.Contains("(configured)", error.Message, StringComparison.Ordinal);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task Fallback_ServesWhenTheEmbeddingModelCannotLoad_AndModelIdNamesIt()
    {
        var broken = TestCache.NewScratchDirectory();
        File.CreateSymbolicLink(Path.Combine(broken, "model.onnx"), Path.Combine(EmbeddingManagers.MiniLm, "model.onnx")); // and no vocabulary
        var (services, manager) = EmbeddingManagers.Create($$"""
            { "max_memory_mb": 1024, "models": [
                {{EmbeddingManagers.Encoder("broken", broken, extra: "\"fallbacks\": [\"minilm\"]")}},
                {{EmbeddingManagers.Encoder("minilm", EmbeddingManagers.MiniLm)}} ] }
            """);
        await using var scope = services;
        var fallbacks = new ConcurrentQueue<ModelEventArgs>();
        manager.ModelEvent += (_, e) =>
        {
            if (e.Kind == ModelEventKind.FallbackUsed)
            {
                fallbacks.Enqueue(e);
            }
        };
        var generator = services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("broken");

        var result = await generator.GenerateAsync(["Once upon a time", "A man is playing a guitar."]);

        Assert.All(result, e => Assert.Equal("minilm", e.ModelId));
        Assert.Equal("broken", generator.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelId);
        var used = Assert.Single(fallbacks);
        Assert.Equal(("broken", "minilm"), (used.ModelName, used.Detail));
        var stats = manager.GetModelStats();
        Assert.Equal(1, stats["broken"].FailureCount);
        Assert.Equal(1, stats["broken"].FallbackCount);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task ConcurrentCalls_LoadOnce_CountAccesses_AndReturnEveryLease()
    {
        var (services, manager) = EmbeddingManagers.CreateMiniLm();
        await using var scope = services;
        var generator = manager.GetEmbeddingGenerator("Memory");

        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => generator.GenerateAsync([$"text number {i}"])));

        Assert.All(results, r => Assert.Equal(384, r.Single().Vector.Length));
        var stats = manager.GetModelStats()["minilm"];
        Assert.Equal(1, stats.LoadCount);
        Assert.True(stats.AccessCount >= 8, $"AccessCount {stats.AccessCount}");
        Assert.Equal(0, stats.ActiveLeases);
        Assert.Equal(0, stats.ActiveCalls);
        Assert.True(stats.ActualBytes >= new FileInfo(Path.Combine(EmbeddingManagers.MiniLm, "model.onnx")).Length);
        Assert.Equal(384, generator.GetService<EmbeddingGeneratorMetadata>()!.DefaultModelDimensions);
        Assert.Equal("modelmanager", generator.GetService<EmbeddingGeneratorMetadata>()!.ProviderName);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task ForceUnload_DuringACall_IsModelUnloadedException_OrTheCompletedResult()
    {
        var (services, manager) = EmbeddingManagers.CreateMiniLm();
        await using var scope = services;
        var generator = manager.GetEmbeddingGenerator("minilm");
        await manager.LoadModelAsync("minilm");
        var texts = Enumerable.Range(0, 256).Select(i => string.Join(' ', Enumerable.Repeat($"word{i}", 120))).ToArray();

        var call = generator.GenerateAsync(texts);
        await Task.Delay(50);
        Assert.True(await manager.UnloadModelAsync("minilm", force: true));

        try
        {
            var result = await call;
            Assert.Equal(texts.Length, result.Count); // it finished before the unload reached it
        }
        catch (ModelUnloadedException e)
        {
            Assert.Equal("minilm", e.ModelName);
        }

        Assert.Equal(ModelState.Unloaded, manager.GetModelStats()["minilm"].State);
        Assert.Equal(384, (await generator.GenerateAsync(["it reloads"])).Single().Vector.Length);
    }
}
