using Microsoft.Extensions.Configuration;

namespace ModelManager.Tests;

public sealed class ModelConfigurationLoaderTests
{
    [Fact]
    public void LoadFile_RelativePaths_ResolveAgainstTheConfigFolder()
    {
        var dir = Directory.CreateTempSubdirectory("mm-config-");
        var file = Path.Combine(dir.FullName, "config.json");
        File.WriteAllText(file, """
            { "max_memory_mb": 100, "default_model": "a",
              "models": [ { "name": "a", "type": "fake", "path": "./models/a.bin", "context_length": 2048,
                            "parameters": { "temperature": 0.01, "max_tokens": 64, "do_sample": false, "stop": ["\n"], "size_mb": 3 },
                            "memory_priority": 1, "max_idle_time": 300, "preload": true, "fallbacks": [ "b" ] },
                          { "name": "b", "type": "fake", "path": "/abs/b.bin" } ],
              "agents": { "Coder": { "model": "a", "fallbacks": [ "b" ] }, "Short": "b" } }
            """);
        var options = new ModelManagerOptions();
        ModelConfigurationLoader.LoadFile(file, options);
        var config = ModelConfigurationValidator.Validate(options, new Dictionary<string, IModelBackend> { ["fake"] = new FakeModelBackend() });

        var a = config.Models[0];
        Assert.Equal(Path.Combine(dir.FullName, "models", "a.bin"), a.Path);
        Assert.Equal("/abs/b.bin", config.Models[1].Path);
        Assert.Equal(2048, a.ContextLength);
        Assert.Equal(1, a.MemoryPriority);
        Assert.Equal(TimeSpan.FromSeconds(300), a.MaxIdleTime);
        Assert.True(a.Preload);
        Assert.Equal(["b"], a.Fallbacks);
        Assert.Equal(0.01, a.Parameters.Temperature);
        Assert.Equal(64, a.Parameters.MaxTokens);
        Assert.True(a.Parameters.IsGreedy);
        Assert.Equal(["\n"], a.Parameters.StopSequences!);
        Assert.Equal("3", a.Settings["parameters:size_mb"]);
        Assert.Equal(100 * TestManagers.Mb, config.LimitBytes);
        Assert.Equal("a", config.DefaultModel);
        Assert.Equal(["b"], config.Agents["Coder"].Fallbacks);
        Assert.Equal("b", config.Agents["Short"].Model);
        Assert.Empty(config.Warnings);
    }

    [Fact]
    public void Bind_FromIConfigurationSection_ReadsTheSameSchema()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ModelManager:max_memory_mb"] = "64",
            ["ModelManager:models:0:name"] = "x",
            ["ModelManager:models:0:type"] = "fake",
            ["ModelManager:models:0:memory_priority"] = "4",
            ["ModelManager:models:0:parameters:size_mb"] = "2",
            ["ModelManager:models:1:name"] = "y",
            ["ModelManager:models:1:type"] = "fake",
            ["ModelManager:models:1:memory_priority"] = "six",
        }).Build();
        var options = new ModelManagerOptions();
        ModelConfigurationBinder.Bind(configuration.GetSection("ModelManager"), options);

        Assert.Equal(64, options.MaxMemoryMb);
        Assert.Equal(4, options.Models[0].MemoryPriority);
        Assert.Equal("2", options.Models[0].Settings["parameters:size_mb"]);
        Assert.Equal(["models[1].memory_priority: 'six' is not an integer"], options.BindErrors);
    }

    [Fact]
    public void Validate_NoLimit_DefaultsToThreeQuartersOfAvailableMemory()
    {
        var options = TestManagers.Options("""{ "models": [ { "name": "a", "type": "fake" } ] }""");
        var config = ModelConfigurationValidator.Validate(options, new Dictionary<string, IModelBackend> { ["fake"] = new FakeModelBackend() });
        Assert.Equal(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4 * 3, config.LimitBytes);
        Assert.Equal(TimeSpan.FromSeconds(30), config.LoadWaitTimeout);
        Assert.Equal(3, config.Models[0].MemoryPriority);
        Assert.Equal(TimeSpan.Zero, config.Models[0].MaxIdleTime);
    }

    [Fact]
    public void Descriptor_RedactsSecretSettings_ButBackendsReadThem()
    {
        var options = TestManagers.Options("""
            { "models": [ { "name": "a", "type": "fake", "api_key": "sk-canary", "api_key_env": "MY_KEY",
                            "headers": { "Authorization": "Bearer sk-canary", "X-Trace": "on" }, "parameters": { "max_tokens": 4 } } ] }
            """);
        var d = ModelConfigurationValidator.Validate(options, new Dictionary<string, IModelBackend> { ["fake"] = new FakeModelBackend() }).Models[0];

        Assert.Equal(ModelDescriptor.Redacted, d.Settings["api_key"]);
        Assert.Equal(ModelDescriptor.Redacted, d.Settings["headers:Authorization"]);
        Assert.Equal("MY_KEY", d.Settings["api_key_env"]);
        Assert.Equal("on", d.Settings["headers:X-Trace"]);
        Assert.DoesNotContain(d.Settings.Values, v => v?.Contains("sk-canary", StringComparison.Ordinal) == true);
        Assert.Equal("sk-canary", d.GetSetting("api_key"));
        Assert.Equal("Bearer sk-canary", d.GetSection("headers")["Authorization"]);
    }

    [Fact]
    public void ShippedConfig_ParsesWithoutErrorsOrWarnings()
    {
        var file = Path.Combine(RepoRoot(), "config", "config.json");
        var options = new ModelManagerOptions();
        ModelConfigurationLoader.LoadFile(file, options);
        Assert.Empty(options.BindErrors);
        Assert.Empty(options.BindWarnings);
        Assert.Equal(8192, options.MaxMemoryMb);
        Assert.Equal("SmolLM3-3B", options.DefaultModel);
        Assert.Equal(["CodebaseExpertAgent", "MemoryAgent", "SummarizerAgent"], options.Agents.Keys.Order());
        Assert.Equal(["embeddings"], options.Models.Single(m => m.Name == "all-MiniLM-L6-v2").Capabilities);
    }

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "ModelManager.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
