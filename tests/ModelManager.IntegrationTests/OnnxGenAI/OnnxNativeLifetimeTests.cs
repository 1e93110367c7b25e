using Xunit.Abstractions;

namespace ModelManager.IntegrationTests;

/// <summary>Process-wide native state and measured memory: run alone, so no other test loads or frees meanwhile.</summary>
[Collection(RunAlone.Name)]
public sealed class OnnxNativeLifetimeTests(ITestOutputHelper output)
{
    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task OgaHandle_IsCreatedAtTheFirstLoad_SurvivesEviction_AndIsDisposedAfterTheLastModelAtShutdown()
    {
        var references = OgaRuntime.References;
        var starts = OgaRuntime.Starts;
        var (services, manager) = OnnxManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("tiny", OnnxManagers.TinyGpt2)}} ] }""");
        Assert.Equal(references, OgaRuntime.References); // start-up touches no native code

        await manager.LoadModelAsync("tiny");
        Assert.True(OgaRuntime.IsRunning);
        Assert.Equal(references + 2, OgaRuntime.References); // the backend and the model
        Assert.Equal(references == 0 ? starts + 1 : starts, OgaRuntime.Starts);

        await manager.UnloadModelAsync("tiny");
        Assert.Equal(references + 1, OgaRuntime.References); // the backend keeps the runtime up between models
        Assert.True(OgaRuntime.IsRunning);
        await manager.LoadModelAsync("tiny");

        await services.DisposeAsync(); // unloads the model, then disposes the backend
        Assert.Equal(references, OgaRuntime.References);
        Assert.Equal(references > 0, OgaRuntime.IsRunning);

        // The runtime starts again for the next manager.
        var (again, second) = OnnxManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("tiny", OnnxManagers.TinyGpt2)}} ] }""");
        await using (again)
        {
            Assert.StartsWith(" d d", await second.GetModel("tiny").GenerateAsync(OnnxManagers.Prompt), StringComparison.Ordinal);
        }

        Assert.Equal(references, OgaRuntime.References);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task DisposingAModel_DuringAGeneration_KeepsItsNativeObjectsUntilTheGenerationEnds()
    {
        var backend = new OnnxGenAIBackend();
        var model = (OnnxGenAIModel)await backend.LoadAsync(OnnxManagers.Descriptor("tiny", OnnxManagers.TinyGpt2), null, CancellationToken.None);
        var references = OgaRuntime.References;
        var ids = new List<int>();

        // 500 tokens keep the producer busy for a good while after the first one arrives here.
        await foreach (var token in model.GenerateTokensAsync(OnnxManagers.PromptIds, new GenerationOptions { DoSample = false, MaxTokens = 500 }))
        {
            ids.Add(token.Id);
            if (ids.Count == 1)
            {
                Assert.Equal(1, model.ActiveGenerations);
                await model.DisposeAsync();
                Assert.False(model.IsReleased);
                Assert.Throws<ObjectDisposedException>(() => model.Encode(OnnxManagers.Prompt));
            }
        }

        Assert.Equal(OnnxManagers.GreedyIds, ids[..10]);
        Assert.Equal(500, ids.Count);
        Assert.True(model.IsReleased);
        Assert.Equal(references - 1, OgaRuntime.References);
        backend.Dispose();
        Assert.Equal(references - 2, OgaRuntime.References);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task FailedNativeConstructors_LeaveNoFinalizerThatCrashesTheProcess()
    {
        // OGA's C# classes destroy their handle in a finalizer even when the constructor failed and the handle is null;
        // OgaDestroyTokenizer(null) is a segfault. The backend's guarded subclasses skip that.
        var corrupt = OnnxManagers.CopyTiny();
        File.WriteAllText(Path.Combine(corrupt, "tokenizer.json"), "this is not a tokenizer");
        var truncated = OnnxManagers.CopyTiny();
        File.WriteAllBytes(Path.Combine(truncated, "past.onnx"), File.ReadAllBytes(Path.Combine(truncated, "past.onnx"))[..1000]);
        var backend = new OnnxGenAIBackend();
        for (var i = 0; i < 3; i++)
        {
            await Assert.ThrowsAsync<ModelLoadException>(() => backend.LoadAsync(OnnxManagers.Descriptor("corrupt", corrupt), null, CancellationToken.None));
            await Assert.ThrowsAsync<ModelLoadException>(() => backend.LoadAsync(OnnxManagers.Descriptor("truncated", truncated), null, CancellationToken.None));
        }

        backend.Dispose(); // the runtime may shut down here: finalizers must not touch it afterwards either
        for (var i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        await using var direct = await OnnxManagers.LoadDirectAsync("tiny", OnnxManagers.TinyGpt2);
        Assert.Equal(OnnxManagers.GreedyIds, await OnnxManagers.TokensAsync(direct.Model, OnnxManagers.PromptIds, new GenerationOptions { DoSample = false, MaxTokens = 10 }));
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task Stats_ShowTheEstimate_AndTheMeasuredActualNeverBelowTheOnnxFiles()
    {
        var (services, manager) = OnnxManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("tiny", OnnxManagers.TinyGpt2)}} ] }""");
        await using var _ = services;

        await manager.LoadModelAsync("tiny");
        var stats = manager.GetModelStats()["tiny"];
        output.WriteLine($"tiny-random-gpt2-fp32: estimated {stats.EstimatedBytes:N0} B, actual (RSS growth, floored at ONNX bytes) {stats.ActualBytes:N0} B, charged {stats.MemoryUsageMb:F2} MB");

        Assert.Equal(OnnxManagers.TinyOnnxBytes + (5L * 4 * 8 * 512 * 2 * 4 * 4), stats.EstimatedBytes);
        Assert.InRange(stats.ActualBytes, OnnxManagers.TinyOnnxBytes, 512L * 1024 * 1024);
        Assert.Equal(Math.Max(stats.EstimatedBytes, stats.ActualBytes) / 1048576.0, stats.MemoryUsageMb, 6);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task OnnxAndGgufModels_EvictAndReloadEachOther_UnderOneBudget()
    {
        // parallel 256 makes the ONNX estimate (files + 256 KV caches, ~80 MB) dominate its measured growth, so the charges are known up front.
        var onnxEntry = OnnxManagers.Onnx("onnx", OnnxManagers.TinyGpt2, priority: 4, extra: "\"parallel\": 256");
        var onnxBytes = OnnxGenAIBackend.Estimate(OnnxModelFolder.Read(OnnxManagers.TinyGpt2, "onnx"), new OnnxGenAIModelSettings(512, 256, [], null, 256)).TotalBytes;
        var ggufBytes = GgufMemoryEstimator.Estimate(GgufReader.Read(SharedModels.Stories260K), 256, 8);
        var limitMb = (Math.Max(onnxBytes, ggufBytes) / 1048576) + 1;
        Assert.True(limitMb * 1048576 < onnxBytes + ggufBytes, "the budget must not hold both");
        var (services, manager) = OnnxManagers.Create($$"""
            { "max_memory_mb": {{limitMb}}, "load_wait_timeout": 5, "models": [ {{onnxEntry}}, {{GgufManagers.Stories(priority: 4)}} ] }
            """);
        await using var _ = services;
        var onnx = manager.GetModel("onnx");
        var stories = manager.GetModel("stories");
        var first = await onnx.GenerateAsync(OnnxManagers.Prompt);
        var starts = OgaRuntime.Starts;
        var evicted = new List<string>();
        manager.RegisterCallback(ModelEventKind.Evicted, name => { lock (evicted) { evicted.Add(name); } });

        for (var i = 0; i < 3; i++)
        {
            Assert.StartsWith(GgufManagers.StoriesReference["Once upon a time".Length..][..20], await stories.GenerateAsync("Once upon a time"), StringComparison.Ordinal);
            Assert.Equal(first, await onnx.GenerateAsync(OnnxManagers.Prompt));
            output.WriteLine($"reload {i + 1}: onnx actual {manager.GetModelStats()["onnx"].ActualBytes:N0} B (estimate {onnxBytes:N0} B)");
        }

        Assert.True(evicted.Count(n => n == "onnx") >= 3, $"evictions: {string.Join(", ", evicted)}");
        Assert.True(evicted.Count(n => n == "stories") >= 2, $"evictions: {string.Join(", ", evicted)}");
        Assert.Equal(4, manager.GetModelStats()["onnx"].LoadCount);
        Assert.Equal(3, manager.GetModelStats()["stories"].LoadCount);
        Assert.Equal(onnxBytes, manager.GetModelStats()["onnx"].EstimatedBytes);
        Assert.True(manager.GetMemoryUsage().TotalBytes <= manager.GetMemoryUsage().LimitBytes);
        Assert.Equal(starts, OgaRuntime.Starts); // eviction never restarted ONNX Runtime
    }
}
