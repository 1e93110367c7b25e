namespace ModelManager.IntegrationTests;

/// <summary>Corrupt GGUF files through the whole manager: typed errors, the process survives, other models keep working.</summary>
public sealed class CorruptModelTests
{
    [Fact]
    public async Task EveryCorruptFile_GivesModelFormatException_AndOtherModelsKeepWorking()
    {
        var dir = TestCache.NewScratchDirectory();
        var good = TestCache.Model(CorruptGgufCorpus.Options);
        var variants = CorruptGgufCorpus.Variants;
        Assert.True(variants.Count >= 20, $"only {variants.Count} variants");
        var models = new List<string> { GgufManagers.Gguf("good", good, priority: 1) };
        for (var i = 0; i < variants.Count; i++)
        {
            var path = Path.Combine(dir, $"bad{i}.gguf");
            File.WriteAllBytes(path, variants[i].Bytes);
            models.Add(GgufManagers.Gguf($"bad{i}", path));
        }

        var (services, manager) = GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{string.Join(", ", models)}} ] }""");
        await using var _ = services;
        var baseline = await manager.GetModel("good").GenerateAsync("abc");

        for (var i = 0; i < variants.Count; i++)
        {
            var e = await Assert.ThrowsAsync<ModelFormatException>(() => manager.GetModel($"bad{i}").GenerateAsync("abc"));
            Assert.Equal($"bad{i}", e.ModelName);
            Assert.Contains($"bad{i}.gguf", e.Message, StringComparison.Ordinal);
            Assert.Contains($"model 'bad{i}'", e.Message, StringComparison.Ordinal);
            Assert.Equal(ModelState.Unloaded, manager.GetModelStats()[$"bad{i}"].State);
        }

        Assert.Equal(baseline, await manager.GetModel("good").GenerateAsync("abc"));
        Assert.Equal(1, manager.GetModelStats()["good"].LoadCount);
        Assert.Equal(manager.GetModelStats()["good"].MemoryUsageMb * 1048576.0, manager.GetMemoryUsage().TotalBytes, 0);
    }

    [Fact]
    public async Task MissingFile_IsAModelFormatExceptionNamingTheFile()
    {
        var missing = Path.Combine(TestCache.NewScratchDirectory(), "nope.gguf");
        var (services, manager) = GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Gguf("ghost", missing)}} ] }""");
        await using var _ = services;
        var e = await Assert.ThrowsAsync<ModelFormatException>(() => manager.LoadModelAsync("ghost"));
        Assert.Equal(missing, e.FilePath);
        Assert.Contains("file not found (model 'ghost')", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CorruptModel_WithFallback_ServesTheFallback()
    {
        var dir = TestCache.NewScratchDirectory();
        var bad = Path.Combine(dir, "bad.gguf");
        File.WriteAllBytes(bad, CorruptGgufCorpus.Variants[0].Bytes);
        var good = TestCache.Model(CorruptGgufCorpus.Options);
        var (services, manager) = GgufManagers.Create($$"""
            { "max_memory_mb": 512, "models": [ {{GgufManagers.Gguf("broken", bad, extra: "\"fallbacks\": [\"good\"]")}}, {{GgufManagers.Gguf("good", good)}} ] }
            """);
        await using var _ = services;
        string? servedBy = null;
        manager.ModelEvent += (_, e) => { if (e.Kind == ModelEventKind.FallbackUsed) { servedBy = e.Detail; } };

        var text = await manager.GetModel("broken").GenerateAsync("abc");

        Assert.Equal(await manager.GetModel("good").GenerateAsync("abc"), text);
        Assert.Equal("good", servedBy);
    }
}
