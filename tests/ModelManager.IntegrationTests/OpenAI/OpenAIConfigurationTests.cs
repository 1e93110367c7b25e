namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>The openai keys are checked at start-up, every problem at once, with its JSON path, and without echoing credentials.</summary>
public sealed class OpenAIConfigurationTests
{
    [Fact]
    public void InvalidKeys_AreReportedTogether_WithTheirJsonPaths()
    {
        var e = Assert.Throws<ModelConfigurationException>(() => RemoteManagers.Create("""
            { "models": [
                { "name": "none", "type": "openai" },
                { "name": "bad", "type": "openai", "endpoint": "localhost:11434/v1", "timeout_seconds": 0, "max_retries": 11, "model": " ",
                  "endpoints": ["ftp://example/v1", "http://user:hunter2-secret@127.0.0.1:1/v1"], "headers": { "Bad Header": "x" }, "check_on_load": "maybe" } ] }
            """));

        string[] paths = ["models[0].endpoint", "models[1].endpoint", "models[1].timeout_seconds", "models[1].max_retries", "models[1].model",
            "models[1].endpoints[0]", "models[1].endpoints[1]", "models[1].headers", "models[1].check_on_load"];
        foreach (var path in paths)
        {
            Assert.Contains(e.Errors, error => error.StartsWith(path + ":", StringComparison.Ordinal) || error.StartsWith(path + ".", StringComparison.Ordinal));
        }

        Assert.DoesNotContain("hunter2-secret", e.ToString(), StringComparison.Ordinal);
        Assert.Contains(e.Errors, error => error.Contains("api_key_env", StringComparison.Ordinal)); // the credentials hint
    }

    [Fact]
    public async Task Warnings_PlaintextKey_UnsetVariable_AndAMissingV1Path()
    {
        var logs = new LogCapture();
        var variable = "MM_TEST_UNSET_" + Guid.NewGuid().ToString("N");
        var (services, manager) = RemoteManagers.Create($$"""
            { "models": [
                { "name": "plain", "type": "openai", "endpoint": "http://127.0.0.1:1/v1", "api_key": "sk-plaintext-0001" },
                { "name": "env", "type": "openai", "path": "http://127.0.0.1:1", "api_key_env": "{{variable}}" } ] }
            """, logs);
        await using var _ = services;

        var warnings = logs.Entries.Where(x => x.EventId == 1012).Select(x => x.Message).ToList();
        var load = await Assert.ThrowsAsync<ModelLoadException>(() => manager.LoadModelAsync("env"));

        Assert.Contains(warnings, w => w.Contains("models[0].api_key", StringComparison.Ordinal) && w.Contains("plaintext", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("models[1].api_key_env", StringComparison.Ordinal) && w.Contains(variable, StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("models[1].path", StringComparison.Ordinal) && w.Contains("/v1", StringComparison.Ordinal));
        Assert.DoesNotContain(logs.AllText, t => t.Contains("sk-plaintext-0001", StringComparison.Ordinal));
        Assert.Contains(variable, load.Message, StringComparison.Ordinal);
        Assert.Contains("is not set", load.Message, StringComparison.Ordinal);
    }
}
