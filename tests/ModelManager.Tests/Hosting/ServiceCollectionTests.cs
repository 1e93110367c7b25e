using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Hosting;

namespace ModelManager.Tests;

public sealed class ServiceCollectionTests
{
    private const string Json = """
        { "max_memory_mb": 100, "default_model": "general",
          "models": [
            { "name": "general", "type": "fake", "preload": true, "parameters": { "size_mb": 5 } },
            { "name": "coder", "type": "fake", "parameters": { "size_mb": 5 } } ],
          "agents": { "CodebaseExpertAgent": { "model": "coder" }, "SummarizerAgent": { "model": "coder" } } }
        """;

    private sealed class CodebaseExpertAgent([FromKeyedServices("CodebaseExpertAgent")] ILanguageModel model)
    {
        public ILanguageModel Model => model;
    }

    private sealed class SummarizerAgent([FromKeyedServices("SummarizerAgent")] IChatClient chat)
    {
        public IChatClient Chat => chat;
    }

    [Fact]
    public async Task Host_PreloadsAtStart_InjectsKeyedModels_AndUnloadsAtStop()
    {
        var path = WriteConfig(Json);
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddModelManager(path).AddFakeBackend();
        builder.Services.AddSingleton<CodebaseExpertAgent>();
        builder.Services.AddSingleton<SummarizerAgent>();
        using var host = builder.Build();

        await host.StartAsync();
        var manager = host.Services.GetRequiredService<IModelManager>();
        Assert.Equal(ModelState.Ready, manager.GetModelStats()["general"].State);
        Assert.Equal(ModelState.Unloaded, manager.GetModelStats()["coder"].State);

        var expert = host.Services.GetRequiredService<CodebaseExpertAgent>();
        var summarizer = host.Services.GetRequiredService<SummarizerAgent>();
        Assert.Equal("CodebaseExpertAgent", expert.Model.Name);
        Assert.Equal(FakeModelInstance.Expected("coder", "explain", 16), await expert.Model.GenerateAsync("explain"));
        var reply = await summarizer.Chat.GetResponseAsync("summarize");
        Assert.Equal("coder", reply.ModelId);
        Assert.False(string.IsNullOrWhiteSpace(reply.Text));
        Assert.Equal(1, host.Services.GetRequiredService<FakeModelBackend>().Loads - 1);
        Assert.Same(host.Services.GetRequiredKeyedService<ILanguageModel>("general"), manager.GetModel("general"));
        Assert.Equal("coder", summarizer.Chat.GetService<ModelDescriptor>()!.Name);

        // An agent without an entry gets default_model.
        Assert.Equal(FakeModelInstance.Expected("general", "x", 16), await host.Services.GetRequiredKeyedService<ILanguageModel>("UnlistedAgent").GenerateAsync("x"));

        await host.StopAsync();
        Assert.Equal(0, host.Services.GetRequiredService<FakeModelBackend>().LiveInstances);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => manager.GetModel("general").GenerateAsync("late"));
    }

    [Fact]
    public async Task Host_InvalidConfig_FailsAtStartWithEveryError()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddModelManager(WriteConfig("""{ "max_memory_mb": -1, "models": [ { "name": "a", "type": "gguf" } ] }""")).AddFakeBackend();
        using var host = builder.Build();
        var e = await Assert.ThrowsAsync<ModelConfigurationException>(() => host.StartAsync());
        Assert.Equal(2, e.Errors.Count);
        Assert.Contains("models[0].type: 'gguf' has no registered backend; call builder.AddLlamaSharp()", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddModelManager_Twice_DoesNotDoubleModelsOrBackends()
    {
        var services = new ServiceCollection();
        services.AddModelManager(o => o.Models.Add(new ModelDefinition { Name = "a", Type = "fake" })).AddFakeBackend().AddFakeBackend();
        services.AddModelManager(o => o.Models.Add(new ModelDefinition { Name = "a", Type = "fake" })).AddFakeBackend();
        using var sp = services.BuildServiceProvider();
        var manager = sp.GetRequiredService<IModelManager>();
        Assert.Single(manager.GetModels());
        Assert.Single(sp.GetServices<IModelBackend>());
        Assert.Single(sp.GetServices<IHostedService>());
    }

    [Fact]
    public async Task AddModelManager_UsesTheContainersTimeProvider()
    {
        var time = new FakeTimeProvider();
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(time);
        services.AddModelManager(o => o.Models.Add(new ModelDefinition { Name = "a", Type = "fake", MaxIdleTime = 10 })).AddFakeBackend();
        await using var sp = services.BuildServiceProvider();
        var manager = sp.GetRequiredService<IModelManager>();
        await manager.LoadModelAsync("a");
        var evicted = TestManagers.Next(manager, ModelEventKind.Evicted, "a");
        time.Advance(TimeSpan.FromSeconds(11));
        Assert.Equal(UnloadReason.Idle, (await evicted).Reason);
    }

    [Fact]
    public async Task AddModelManager_FromAppConfigurationSection()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ModelManager:max_memory_mb"] = "50",
            ["ModelManager:models:0:name"] = "cfg",
            ["ModelManager:models:0:type"] = "fake",
        });
        builder.Services.AddModelManager().AddFakeBackend();
        using var host = builder.Build();
        var manager = host.Services.GetRequiredService<IModelManager>();
        Assert.Equal(50 * TestManagers.Mb, manager.GetMemoryUsage().LimitBytes);
        Assert.Equal("cfg", Assert.Single(manager.GetModels()).Name);
        await manager.ShutdownAsync();
    }

    [Fact]
    public async Task GlobalModelManager_InitializeAndShutdown()
    {
        var path = WriteConfig(Json);
        var manager = await GlobalModelManager.InitializeAsync(path, b => b.AddFakeBackend());
        try
        {
            Assert.Same(manager, GlobalModelManager.Instance);
            Assert.Equal(ModelState.Ready, manager.GetModelStats()["general"].State);
            await Assert.ThrowsAsync<InvalidOperationException>(() => GlobalModelManager.InitializeAsync(path, b => b.AddFakeBackend()));
        }
        finally
        {
            await GlobalModelManager.ShutdownAsync();
        }

        Assert.False(GlobalModelManager.IsInitialized);
        Assert.Throws<InvalidOperationException>(() => GlobalModelManager.Instance);
    }

    internal static string WriteConfig(string json)
    {
        var dir = Directory.CreateTempSubdirectory("mm-di-");
        var path = Path.Combine(dir.FullName, "config.json");
        File.WriteAllText(path, json);
        return path;
    }
}
