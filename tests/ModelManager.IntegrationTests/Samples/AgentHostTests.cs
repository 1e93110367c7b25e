using AgentHost;

namespace ModelManager.IntegrationTests.Samples;

/// <summary>Runs the AgentHost sample end to end, in process, and reads its (plain-text) terminal output.</summary>
public sealed class AgentHostTests
{
    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task RunAsync_ShortScenario_ShowsSharingFallbackEvictionIdleUnloadAndStats()
    {
        _ = SharedModels.Stories260K; // the sample would stand in a synthetic model; under CI the real one must be there
        var text = await RunSucceedingAsync("--scenario", "short", "--cache-dir", TestCache.Directory);

        // Load progress bars, and which agent uses which model.
        Assert.Matches(@"LOAD\s+stories260K\s+\[#{20}\] 100%", text);
        Assert.Matches(TableRow("CodebaseExpertAgent", "stories260K"), text);
        Assert.Matches(TableRow("ReviewerAgent", "reviewer-q4", "reviewer-12m"), text);

        // Two agents share one loaded copy.
        Assert.Matches(@"shared: stories260K serves CodebaseExpertAgent and SummarizerAgent from one copy: LoadCount = 1, [1-9]\d*\.\d MB in memory", text);

        // Each agent call names the model that served it and what it cost (prompt + generated tokens; cut by max_tokens).
        Assert.Matches(@"CodebaseExpertAgent\s+<- stories260K \d+\.\d\d s, [1-9]\d*\+[1-9]\d* tok", text);
        Assert.Matches(@"SummarizerAgent\s+<- stories260K \d+\.\d\d s, [1-9]\d*\+[1-9]\d* tok", text);
        Assert.Matches(@"ReviewerAgent\s+<- reviewer-12m \d+\.\d\d s, [1-9]\d*\+[1-9]\d* tok", text);
        Assert.Matches(@"CodeGeneratorAgent\s+<- coder-8m \d+\.\d\d s, [1-9]\d*\+[1-9]\d* tok", text);

        // A corrupt model falls back; the budget evicts the least important idle model; an idle model unloads.
        Assert.Matches(@"FALLBACK\s+reviewer-q4 -> reviewer-12m\s+reviewer-12m served instead of reviewer-q4 \(ModelFormatException: .*magic", text);
        Assert.Matches(@"EVICTED\s+reviewer-12m\s+reason=Capacity, freed [1-9]\d*\.\d MB", text);
        Assert.Matches(@"EVICTED\s+coder-8m\s+reason=Idle, freed [1-9]\d*\.\d MB", text);

        // Retrieval: one embedding call on the memory agent's model, then the chat call on the shared model, both held.
        Assert.Matches(@"RetrievalAgent\s+<- memory-4m \d+\.\d\d s, 5 texts in one call, [1-9]\d* dimensions, [1-9]\d* tok", text);
        Assert.Matches(@"RetrievalAgent\s+<- stories260K \d+\.\d\d s, [1-9]\d*\+[1-9]\d* tok", text);
        Assert.Matches(TableRow("memory-4m", "gguf", "Ready", "3", "1", "0", "0", "0", "1", @"[1-9]\d*\.\d"), text);

        // The final GetModelStats() table: name | type | state | priority | loads | evictions | failures | fallbacks | calls | memory MB.
        Assert.Matches(TableRow("stories260K", "gguf", "Ready", "1", "1", "0", "0", "0", @"[1-9]\d*", @"[1-9]\d*\.\d"), text);
        Assert.Matches(TableRow("reviewer-12m", "gguf", "Unloaded", "5", "1", "1", "0", "0", "1", @"0\.0"), text);
        Assert.Matches(TableRow("coder-8m", "gguf", "Unloaded", "2", "1", "1"), text);
        Assert.Matches(TableRow("reviewer-q4", "gguf", "Unloaded", "3", "0", "0", @"\d+", "1"), text);
        Assert.Matches(TableRow("budget", @"[1-9]\d*\.0"), text);
        Assert.Matches(@"all \d+ checks passed", text);
        Assert.DoesNotContain("FAIL ", text, StringComparison.Ordinal);

        // Short means short waits (a 2 s idle time, 24-token answers), not a wall-clock bound: a busy CI machine slows every step.
        Assert.Matches(@"4\. Idle unload: coder-8m has max_idle_time 2 s", text);
    }

    [Fact]
    public async Task RunAsync_FakeBackend_RunsTheSameScenarioWithoutNativeCode()
    {
        var text = await RunSucceedingAsync("--scenario", "short", "--backend", "fake");

        Assert.Matches(@"FAILED\s+reviewer-q4\s+ModelLoadException: .*fail_load", text);
        Assert.Matches(@"FALLBACK\s+reviewer-q4 -> reviewer-12m", text);
        Assert.Matches(@"EVICTED\s+reviewer-12m\s+reason=Capacity, freed 12\.0 MB", text);
        Assert.Matches(@"EVICTED\s+coder-8m\s+reason=Idle, freed 8\.0 MB", text);
        Assert.Matches(@"RetrievalAgent\s+<- memory-fake-4m \d+\.\d\d s, 5 texts in one call, 8 dimensions", text);
        Assert.Matches(@"all \d+ checks passed", text);
    }

    [Fact]
    public async Task RunAsync_UserConfig_RunsEveryConfiguredAgentAndPrintsStats()
    {
        var directory = TestCache.NewScratchDirectory();
        try
        {
            var config = Path.Combine(directory, "config.json");
            await File.WriteAllTextAsync(config, """
                {
                  "max_memory_mb": 64,
                  "models": [
                    { "name": "small", "type": "fake", "parameters": { "size_mb": 4, "max_tokens": 8 } },
                    { "name": "broken", "type": "fake", "fallbacks": ["small"], "parameters": { "size_mb": 4, "fail_load": true } }
                  ],
                  "agents": {
                    "SummarizerAgent": { "model": "small" },
                    "TranslatorAgent": { "model": "broken" }
                  }
                }
                """);

            var text = await RunSucceedingAsync("--config", config);

            Assert.Matches(@"SummarizerAgent\s+<- small", text);
            Assert.Matches(@"TranslatorAgent\s+<- small", text);
            Assert.Matches(TableRow("TranslatorAgent", "broken"), text);
            Assert.Matches(@"FALLBACK\s+broken -> small", text);
            Assert.Matches(TableRow("small", "fake", "Ready", "3", "1"), text);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task RunAsync_UnknownArgument_PrintsUsageAndReturns2()
    {
        var output = new StringWriter();

        var exitCode = await AgentHostApp.RunAsync(["--frobnicate"], output);

        Assert.Equal(2, exitCode);
        Assert.Contains("unknown argument '--frobnicate'", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("usage: AgentHost", output.ToString(), StringComparison.Ordinal);
    }

    /// <summary>A pattern for one row of a printed table: the cells in order, each between '|' borders, padded or not.</summary>
    private static string TableRow(params string[] cells) => @"\|\s*" + string.Join(@"\s*\|\s*", cells) + @"\s*\|";

    /// <summary>Runs the sample in process, asserts that it exited with 0, and returns what it printed.</summary>
    private static async Task<string> RunSucceedingAsync(params string[] args)
    {
        var output = new StringWriter();
        var exitCode = await AgentHostApp.RunAsync(args, output);
        var text = output.ToString();
        Assert.True(exitCode == 0, $"exit code {exitCode}:\n{text}");
        return text;
    }
}
