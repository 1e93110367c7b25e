using System.Diagnostics;
using AgentHost;

namespace ModelManager.IntegrationTests.Samples;

/// <summary>Runs the AgentHost sample end to end, in process, and reads its (plain-text) terminal output.</summary>
public sealed class AgentHostTests
{
    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task RunAsync_ShortScenario_ShowsSharingFallbackEvictionIdleUnloadAndStats()
    {
        _ = SharedModels.Stories260K; // the sample would stand in a synthetic model; under CI the real one must be there
        var output = new StringWriter();
        var watch = Stopwatch.StartNew();

        var exitCode = await AgentHostApp.RunAsync(["--scenario", "short", "--cache-dir", TestCache.Directory], output);

        watch.Stop();
        var text = output.ToString();
        Assert.True(exitCode == 0, $"exit code {exitCode}:\n{text}");

        // Load progress bars, and which agent uses which model.
        Assert.Matches(@"LOAD\s+stories260K\s+\[#{20}\] 100%", text);
        Assert.Matches(@"\|\s*CodebaseExpertAgent\s*\|\s*stories260K\s*\|", text);
        Assert.Matches(@"\|\s*ReviewerAgent\s*\|\s*reviewer-q4\s*\|\s*reviewer-12m\s*\|", text);

        // Two agents share one loaded copy.
        Assert.Matches(@"shared: stories260K serves CodebaseExpertAgent and SummarizerAgent from one copy: LoadCount = 1, [1-9]\d*\.\d MB in memory", text);

        // A corrupt model falls back; the budget evicts the least important idle model; an idle model unloads.
        Assert.Matches(@"FALLBACK\s+reviewer-q4 -> reviewer-12m\s+reviewer-12m served instead of reviewer-q4 \(ModelFormatException: .*magic", text);
        Assert.Matches(@"EVICTED\s+reviewer-12m\s+reason=Capacity, freed [1-9]\d*\.\d MB", text);
        Assert.Matches(@"EVICTED\s+coder-8m\s+reason=Idle, freed [1-9]\d*\.\d MB", text);

        // The final GetModelStats() table: name | type | state | priority | loads | evictions | failures | fallbacks | calls | memory MB.
        Assert.Matches(@"\|\s*stories260K\s*\|\s*gguf\s*\|\s*Ready\s*\|\s*1\s*\|\s*1\s*\|\s*0\s*\|\s*0\s*\|\s*0\s*\|\s*[1-9]\d*\s*\|\s*[1-9]\d*\.\d\s*\|", text);
        Assert.Matches(@"\|\s*reviewer-12m\s*\|\s*gguf\s*\|\s*Unloaded\s*\|\s*5\s*\|\s*1\s*\|\s*1\s*\|\s*0\s*\|\s*0\s*\|\s*1\s*\|\s*0\.0\s*\|", text);
        Assert.Matches(@"\|\s*coder-8m\s*\|\s*gguf\s*\|\s*Unloaded\s*\|\s*2\s*\|\s*1\s*\|\s*1\s*\|", text);
        Assert.Matches(@"\|\s*reviewer-q4\s*\|\s*gguf\s*\|\s*Unloaded\s*\|\s*3\s*\|\s*0\s*\|\s*0\s*\|\s*\d+\s*\|\s*1\s*\|", text);
        Assert.Matches(@"\|\s*budget\s*\|\s*[1-9]\d*\.0\s*\|", text);
        Assert.Matches(@"all \d+ checks passed", text);
        Assert.DoesNotContain("FAIL ", text, StringComparison.Ordinal);

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"the short scenario took {watch.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public async Task RunAsync_FakeBackend_RunsTheSameScenarioWithoutNativeCode()
    {
        var output = new StringWriter();

        var exitCode = await AgentHostApp.RunAsync(["--scenario", "short", "--backend", "fake"], output);

        var text = output.ToString();
        Assert.True(exitCode == 0, $"exit code {exitCode}:\n{text}");
        Assert.Matches(@"FAILED\s+reviewer-q4\s+ModelLoadException: .*fail_load", text);
        Assert.Matches(@"FALLBACK\s+reviewer-q4 -> reviewer-12m", text);
        Assert.Matches(@"EVICTED\s+reviewer-12m\s+reason=Capacity, freed 12\.0 MB", text);
        Assert.Matches(@"EVICTED\s+coder-8m\s+reason=Idle, freed 8\.0 MB", text);
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
            var output = new StringWriter();

            var exitCode = await AgentHostApp.RunAsync(["--config", config], output);

            var text = output.ToString();
            Assert.True(exitCode == 0, $"exit code {exitCode}:\n{text}");
            Assert.Matches(@"SummarizerAgent\s+<- small", text);
            Assert.Matches(@"TranslatorAgent\s+<- small", text);
            Assert.Matches(@"\|\s*TranslatorAgent\s*\|\s*broken\s*\|", text);
            Assert.Matches(@"FALLBACK\s+broken -> small", text);
            Assert.Matches(@"\|\s*small\s*\|\s*fake\s*\|\s*Ready\s*\|\s*3\s*\|\s*1\s*\|", text);
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
}
