using System.Collections.Concurrent;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.IntegrationTests;

/// <summary>A chat model (stories260K) and the embedding model (MiniLM) share one budget that holds either, never both.</summary>
public sealed class EmbeddingBudgetTests
{
    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task ChatAndEmbeddings_SamePriority_EvictEachOtherForCapacity()
    {
        _ = SharedModels.Stories260K;
        var (services, manager) = await CreateAsync(chatPriority: 2, embeddingPriority: 2);
        await using var scope = services;
        var events = Record(manager);
        var chat = services.GetRequiredKeyedService<IChatClient>("Writer");
        var memory = services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("minilm");

        Assert.Equal(384, (await memory.GenerateAsync(["Once upon a time"])).Single().Vector.Length);
        Assert.Equal(ModelState.Ready, manager.GetModelStats()["minilm"].State);

        var answer = await chat.GetResponseAsync("Once upon a time", new ChatOptions { MaxOutputTokens = 8 });
        Assert.Equal("stories", answer.ModelId);
        Assert.Contains(events, e => e is { Kind: ModelEventKind.Evicted, ModelName: "minilm", Reason: UnloadReason.Capacity });
        Assert.Equal(ModelState.Unloaded, manager.GetModelStats()["minilm"].State);

        var again = await memory.GenerateAsync(["Once upon a time"]);
        Assert.Equal("minilm", again[0].ModelId);
        Assert.Contains(events, e => e is { Kind: ModelEventKind.Evicted, ModelName: "stories", Reason: UnloadReason.Capacity });
        var stats = manager.GetModelStats();
        Assert.Equal(2, stats["minilm"].LoadCount);
        Assert.Equal(1, stats["minilm"].EvictionCount);
        Assert.Equal(1, stats["stories"].EvictionCount);
        Assert.True(manager.GetMemoryUsage().TotalMb <= manager.GetMemoryUsage().LimitMb);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task EmbeddingModel_LessImportant_CannotEvictTheChatModel_ButTheChatModelEvictsIt()
    {
        _ = SharedModels.Stories260K;
        var (services, manager) = await CreateAsync(chatPriority: 1, embeddingPriority: 3);
        await using var scope = services;
        var events = Record(manager);
        var chat = services.GetRequiredKeyedService<IChatClient>("Writer");
        var memory = manager.GetEmbeddingGenerator("minilm");

        // The embedding model first; the more important chat model then takes its place.
        _ = await memory.GenerateAsync(["A man is playing a guitar."]);
        _ = await chat.GetResponseAsync("Once upon a time", new ChatOptions { MaxOutputTokens = 8 });
        Assert.Contains(events, e => e is { Kind: ModelEventKind.Evicted, ModelName: "minilm", Reason: UnloadReason.Capacity });

        // Now the less important embedding model cannot evict it: a memory error at once, naming the holder.
        var error = await Assert.ThrowsAsync<ModelMemoryException>(() => memory.GenerateAsync(["A man is playing a guitar."]));
        Assert.Contains("stories", error.Message, StringComparison.Ordinal);
        Assert.Equal(ModelState.Ready, manager.GetModelStats()["stories"].State);
        Assert.DoesNotContain(events, e => e is { Kind: ModelEventKind.Evicted, ModelName: "stories" });
    }

    /// <summary>A manager whose budget holds the larger model plus half the smaller one, measured from both estimates.</summary>
    private static async Task<(ServiceProvider Services, IModelManager Manager)> CreateAsync(int chatPriority, int embeddingPriority)
    {
        string Config(long mb) => $$"""
            { "max_memory_mb": {{mb}}, "load_wait_timeout": 0,
              "models": [ {{GgufManagers.Stories("stories", chatPriority)}}, {{EmbeddingManagers.Encoder("minilm", EmbeddingManagers.MiniLm, embeddingPriority)}} ],
              "agents": { "Writer": "stories" } }
            """;

        long stories, minilm;
        var (probeServices, probe) = EmbeddingManagers.Create(Config(4096));
        await using (probeServices)
        {
            await probe.LoadModelAsync("stories");
            await probe.LoadModelAsync("minilm");
            var stats = probe.GetModelStats();
            stories = Math.Max(stats["stories"].EstimatedBytes, stats["stories"].ActualBytes);
            minilm = Math.Max(stats["minilm"].EstimatedBytes, stats["minilm"].ActualBytes);
        }

        var budget = (Math.Max(stories, minilm) + (Math.Min(stories, minilm) / 2) + (1 << 20)) >> 20;
        Assert.True(budget << 20 < stories + minilm && budget << 20 > Math.Max(stories, minilm), $"budget {budget} MB for {stories >> 20} + {minilm >> 20} MB");
        return EmbeddingManagers.Create(Config(budget));
    }

    private static ConcurrentQueue<ModelEventArgs> Record(IModelManager manager)
    {
        var events = new ConcurrentQueue<ModelEventArgs>();
        manager.ModelEvent += (_, e) => events.Enqueue(e);
        return events;
    }
}
