namespace ModelManager.IntegrationTests;

/// <summary>Broken ONNX model folders through the whole manager: each its own clear error, no crash, other models keep working.</summary>
public sealed class BrokenOnnxFolderTests
{
    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task EveryBrokenFolder_GivesItsOwnClearError_AndTheGoodModelKeepsWorking()
    {
        var dir = TestCache.NewScratchDirectory();
        var corpus = BrokenOnnxFolders.All;
        Assert.True(corpus.Count >= 10, $"only {corpus.Count} broken folders");
        var entries = new List<string> { OnnxManagers.Onnx("good", OnnxManagers.TinyGpt2, priority: 1) };
        var paths = new List<string>();
        for (var i = 0; i < corpus.Count; i++)
        {
            paths.Add(corpus[i].Make(dir));
            entries.Add(OnnxManagers.Onnx($"bad{i}", paths[i]));
        }

        var (services, manager) = OnnxManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{string.Join(", ", entries)}} ] }""");
        await using var _ = services;
        var baseline = await manager.GetModel("good").GenerateAsync(OnnxManagers.Prompt);

        for (var i = 0; i < corpus.Count; i++)
        {
            var broken = corpus[i];
            var e = await Assert.ThrowsAnyAsync<ModelLoadException>(() => manager.GetModel($"bad{i}").GenerateAsync(OnnxManagers.Prompt));
            Assert.True(e.ModelName == $"bad{i}", $"{broken}: names model '{e.ModelName}'");
            if (broken.Native)
            {
                Assert.False(e is ModelFormatException, $"{broken}: ONNX Runtime should have refused it, not the managed checks: {e.Message}");
                Assert.Contains($"ONNX Runtime GenAI could not load model 'bad{i}'", e.Message, StringComparison.Ordinal);
                Assert.IsAssignableFrom<Exception>(e.InnerException); // ORT's own exception is kept
            }
            else
            {
                var format = Assert.IsType<ModelFormatException>(e);
                Assert.True(format.FilePath.EndsWith(broken.File, StringComparison.Ordinal), $"{broken}: FilePath '{format.FilePath}' should end with '{broken.File}'");
                Assert.Contains($"(model 'bad{i}')", e.Message, StringComparison.Ordinal);
            }

            foreach (var fragment in broken.Fragments)
            {
                Assert.True(e.Message.Contains(fragment, StringComparison.Ordinal), $"{broken}: «{e.Message}» lacks «{fragment}»");
            }

            Assert.Equal(ModelState.Unloaded, manager.GetModelStats()[$"bad{i}"].State);
        }

        Assert.Equal(baseline, await manager.GetModel("good").GenerateAsync(OnnxManagers.Prompt));
        Assert.Equal(1, manager.GetModelStats()["good"].LoadCount);
        Assert.Equal(manager.GetModelStats()["good"].MemoryUsageMb * 1048576.0, manager.GetMemoryUsage().TotalBytes, 0);

        // Start-up already warned about the folders the managed checks can judge.
        var warnings = ((DefaultModelManager)manager).Warnings;
        var badJson = corpus.ToList().FindIndex(b => b.Name == "bad-json");
        Assert.Contains(warnings, w => w.StartsWith($"models[{badJson + 1}].path:", StringComparison.Ordinal) && w.Contains("is not valid JSON", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PlainCheckpoint_ExplainsHowToConvertIt_WithoutTouchingNativeCode()
    {
        var folder = Directory.CreateDirectory(Path.Combine(TestCache.NewScratchDirectory(), "SmolLM2-135M")).FullName;
        File.WriteAllText(Path.Combine(folder, "config.json"), "{}");
        File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), new byte[8]);
        var backend = new OnnxGenAIBackend();

        var e = await Assert.ThrowsAsync<ModelFormatException>(() => backend.EstimateBytesAsync(OnnxManagers.Descriptor("smol", folder), CancellationToken.None).AsTask());

        Assert.Equal(Path.Combine(folder, "genai_config.json"), e.FilePath);
        Assert.Contains($"python -m onnxruntime_genai.models.builder -m {folder} -o <out> -p int4 -e cpu", e.Message, StringComparison.Ordinal);
        Assert.Contains("(model 'smol')", e.Message, StringComparison.Ordinal);
        backend.Dispose();
    }
}
