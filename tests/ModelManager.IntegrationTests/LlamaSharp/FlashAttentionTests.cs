using ModelManager.Benchmarks;
using ModelManager.IntegrationTests.OpenAI;
using Xunit.Abstractions;

namespace ModelManager.IntegrationTests;

/// <summary>
/// <c>flash_attention</c>: passed to llama.cpp as configured, and with it off the estimate covers the attention scores that
/// a long prompt makes llama.cpp hold (measured as resident growth).
/// </summary>
[Collection(RunAlone.Name)]
public sealed class FlashAttentionTests(ITestOutputHelper output)
{
    private const int Context = 4096;

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Off_ReachesLlamaCpp_AndTheEstimateCoversTheScoresOfALongPrompt()
    {
        var info = GgufReader.Read(SharedModels.Stories260K);
        var log = new LogCapture();
        var (services, manager) = GgufManagers.Create($$"""
            { "max_memory_mb": 1024, "models": [
              {{Model("auto", "")}},
              {{Model("off", ", \"flash_attention\": \"off\"")}} ] }
            """, log);
        await using var scope = services;

        // llama.cpp's code and one-time tables first: they are per process, not per model.
        Assert.NotEmpty(await manager.GetModel("auto").GenerateAsync("Once upon a time"));
        Assert.Contains(log.Entries, e => e.Category.EndsWith(".Native", StringComparison.Ordinal) && e.Message.Contains("flash_attn", StringComparison.Ordinal) && e.Message.Contains("auto", StringComparison.Ordinal));
        await manager.UnloadModelAsync("auto");
        ProcessMemory.FixMallocThreshold();
        var before = ProcessMemory.TrimmedRss();
        var lines = log.Entries.Count;

        // About 3,400 tokens in one request: seven 512-token micro-batches, the last against 3,000 cells of cache.
        var prompt = string.Concat(Enumerable.Repeat("Once upon a time there was a little girl named Lily who loved to play outside. ", 130));
        var result = await manager.GetModel("off").GenerateResultAsync(prompt, new GenerationOptions { MaxTokens = 4, DoSample = false });
        var growth = ProcessMemory.Rss() - before;

        Assert.NotEmpty(result.Text);
        Assert.True(result.Outcome.PromptTokens > 3000, $"the prompt had {result.Outcome.PromptTokens} tokens");
        var native = log.Entries.Skip(lines).Where(e => e.Category.EndsWith(".Native", StringComparison.Ordinal) && e.Message.Contains("flash_attn", StringComparison.Ordinal)).Select(e => e.Message).ToList();
        Assert.Contains(native, m => m.Contains("disabled", StringComparison.Ordinal) || m.Contains("= 0", StringComparison.Ordinal));
        Assert.DoesNotContain(native, m => m.Contains("enabled", StringComparison.Ordinal));

        var stats = manager.GetModelStats()["off"];
        var scores = 2L * 4 * Context * GgufMemoryEstimator.MicroBatch * info.HeadCount; // 128 MiB: 8 heads
        Assert.Equal(GgufMemoryEstimator.Estimate(info, Context, 1, flashAttention: true) + scores, stats.EstimatedBytes);
        var report = $"{result.Outcome.PromptTokens} prompt tokens; estimate {stats.EstimatedBytes / 1048576.0:F1} MiB, resident growth {growth / 1048576.0:F1} MiB; llama.cpp said: {string.Join(" | ", native)}";
        output.WriteLine(report);
        Assert.True(growth <= stats.EstimatedBytes, report);
        Assert.True(growth >= scores / 4, report); // the scores are really held: the growth is far above the 10 MiB the model needs with it on
    }

    [Theory]
    [InlineData("\"yes\"", "'yes' is not auto, on or off (or true/false)")]
    [InlineData("\"\"", null)]
    [InlineData("false", null)]
    [InlineData("\"ON\"", null)]
    public void Setting_IsValidated_NamingTheKey(string value, string? error)
    {
        var json = $$"""{ "models": [ {{Model("m", $", \"flash_attention\": {value}")}} ] }""";
        if (error is null)
        {
            var (services, manager) = GgufManagers.Create(json);
            using (services)
            {
                Assert.Equal(ModelState.Unloaded, manager.GetModelStats()["m"].State);
            }

            return;
        }

        var e = Assert.Throws<ModelConfigurationException>(() => GgufManagers.Create(json));
        Assert.Contains($"models[0].flash_attention: {error}", e.Message, StringComparison.Ordinal);
    }

    private static string Model(string name, string extra) =>
        $$"""{ "name": "{{name}}", "type": "gguf", "path": {{System.Text.Json.JsonSerializer.Serialize(SharedModels.Stories260K)}}, "context_length": {{Context}}, "parallel": 1, "parameters": { "do_sample": false, "max_tokens": 4 } {{extra}} }""";
}
