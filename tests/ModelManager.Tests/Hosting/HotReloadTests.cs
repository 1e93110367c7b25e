using Microsoft.Extensions.Options;

namespace ModelManager.Tests;

public sealed class HotReloadTests
{
    [Fact]
    public async Task Reload_AddsModels_RemovesOnesAfterTheirLeasesDrain_AndChangesTheLimit()
    {
        var (m, backend) = FromJson(Config(100, Fake("keep", 10), Fake("gone", 10)));
        var goneHandle = m.GetModel("gone");
        var lease = await m.AcquireAsync("gone");
        await m.LoadModelAsync("keep");

        Assert.True(m.ApplyConfiguration(Options(Config(50, Fake("keep", 10), Fake("new", 10)))));

        Assert.Equal(["keep", "new"], m.GetModels().Select(d => d.Name));
        Assert.Equal(FakeModelInstance.Expected("new", "x", 16), await m.GetModel("new").GenerateAsync("x"));
        Assert.Equal(50 * Mb, m.GetMemoryUsage().LimitBytes);
        Assert.Throws<ModelNotFoundException>(() => m.GetModel("gone"));
        Assert.Equal(3, backend.LiveInstances); // keep, new, and "gone", which stays loaded while leased

        var unloaded = Next(m, ModelEventKind.Unloaded, "gone");
        lease.Dispose();
        Assert.Equal(UnloadReason.Removed, (await unloaded).Reason);
        await Assert.ThrowsAsync<ModelNotFoundException>(() => goneHandle.GenerateAsync("x"));
        Assert.Equal(20 * Mb, m.GetMemoryUsage().TotalBytes);
        Assert.Equal(ModelState.Ready, m.GetModelStats()["keep"].State);
    }

    [Fact]
    public async Task Reload_InvalidEdit_IsRejectedWithTheSameMessages_AndTheRunningConfigStays()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10)));
        ConfigurationReloadedEventArgs? seen = null;
        m.ConfigurationReloaded += (_, e) => seen = e;
        await m.LoadModelAsync("a");

        Assert.False(m.ApplyConfiguration(Options("""{ "max_memory_mb": -1, "models": [ { "name": "a", "type": "fake", "memory_priority": 9 } ] }""")));

        Assert.NotNull(seen);
        Assert.False(seen.Applied);
        Assert.Contains("max_memory_mb: must be greater than 0, got -1", seen.Errors);
        Assert.Contains("models[0].memory_priority: must be between 1 (keep longest) and 5 (evict first), got 9", seen.Errors);
        Assert.Equal(100 * Mb, m.GetMemoryUsage().LimitBytes);
        Assert.Equal(3, m.GetModels()[0].MemoryPriority);
        Assert.Equal(ModelState.Ready, m.GetModelStats()["a"].State);
    }

    [Fact]
    public async Task Reload_ChangedPriority_ChangesWhoIsEvicted()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 40, priority: 5), Fake("b", 40, priority: 1), Fake("c", 40, priority: 3)));
        await m.LoadModelAsync("a");
        await m.LoadModelAsync("b");

        m.ApplyConfiguration(Options(Config(100, Fake("a", 40, priority: 1), Fake("b", 40, priority: 5), Fake("c", 40, priority: 3))));
        await m.LoadModelAsync("c");

        Assert.Equal(ModelState.Ready, m.GetModelStats()["a"].State);
        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["b"].State);
        Assert.Equal(1, m.GetModelStats()["a"].LoadCount); // a priority change does not reload
    }

    [Fact]
    public async Task Reload_ComparesParametersByValue()
    {
        var parameters = "\"temperature\": 0.5, \"stop\": [\"\\n\", \"END\"]";
        var (m, _) = FromJson(Config(100, Fake("same", 10, parameters: parameters), Fake("hotter", 10, parameters: parameters)));
        await m.LoadModelAsync("same");
        ConfigurationReloadedEventArgs? reloaded = null;
        m.ConfigurationReloaded += (_, e) => reloaded = e;

        Assert.True(m.ApplyConfiguration(Options(Config(100,
            Fake("same", 10, parameters: parameters),
            Fake("hotter", 10, parameters: "\"temperature\": 0.7, \"stop\": [\"\\n\", \"END\"]")))));

        Assert.Equal(["hotter"], reloaded!.Changed);
        Assert.Equal(new GenerationOptions { Temperature = 0.5, DoSample = true, StopSequences = ["\n", "END"] }, m.GetModels()[0].Parameters);
        Assert.Equal(1, m.GetModelStats()["same"].LoadCount);
        Assert.Equal(ModelState.Ready, m.GetModelStats()["same"].State);
    }

    [Fact]
    public async Task Reload_ChangedBackendSettings_ReloadsOnNextUse()
    {
        var (m, backend) = FromJson(Config(100, Fake("a", 10)));
        await m.LoadModelAsync("a");
        var unloaded = Next(m, ModelEventKind.Unloaded, "a");

        m.ApplyConfiguration(Options(Config(100, Fake("a", 20))));

        Assert.Equal(UnloadReason.Reconfigured, (await unloaded).Reason);
        await m.GetModel("a").GenerateAsync("x");
        Assert.Equal(20 * Mb, m.GetMemoryUsage().Models["a"].ChargedBytes);
        Assert.Equal(2, backend.Loads);
    }

    [Fact]
    public async Task Reload_AgentRemapped_ExistingHandlesFollow()
    {
        const string before = """{ "max_memory_mb": 100, "models": [ { "name": "x", "type": "fake" }, { "name": "y", "type": "fake" } ], "agents": { "Bot": { "model": "x" } } }""";
        var (m, _) = FromJson(before);
        var bot = m.GetAgentModel("Bot");
        Assert.Equal(FakeModelInstance.Expected("x", "q", 16), await bot.GenerateAsync("q"));

        m.ApplyConfiguration(Options(before.Replace("\"model\": \"x\"", "\"model\": \"y\"", StringComparison.Ordinal)));

        Assert.Equal(FakeModelInstance.Expected("y", "q", 16), await bot.GenerateAsync("q"));
    }

    [Fact]
    public async Task EditingTheConfigFile_AppliesWithoutRestart()
    {
        var path = ServiceCollectionTests.WriteConfig(Config(100, Fake("a", 1)));
        var services = new ServiceCollection();
        services.AddModelManager(path).AddFakeBackend();
        await using var sp = services.BuildServiceProvider();
        var manager = sp.GetRequiredService<IModelManager>();
        var reloaded = new TaskCompletionSource<ConfigurationReloadedEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        manager.ConfigurationReloaded += (_, e) =>
        {
            if (e.Applied && e.Added.Contains("b"))
            {
                reloaded.TrySetResult(e);
            }
        };

        await File.WriteAllTextAsync(path, Config(100, Fake("a", 1), Fake("b", 1)));

        var result = await reloaded.Task.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(["b"], result.Added);
        Assert.Equal(FakeModelInstance.Expected("b", "hi", 16), await manager.GetModel("b").GenerateAsync("hi"));
    }

    [Fact]
    public async Task DisposingTheContainer_ReleasesTheFileWatcher()
    {
        // Linux allows 128 inotify instances per user by default; a watcher that outlives its manager exhausts them.
        var path = ServiceCollectionTests.WriteConfig(Config(100, Fake("a", 1)));
        for (var i = 0; i < 200; i++)
        {
            var services = new ServiceCollection();
            services.AddModelManager(path).AddFakeBackend();
            await using var sp = services.BuildServiceProvider();
            var monitor = sp.GetRequiredService<IOptionsMonitor<ModelManagerOptions>>();
            Assert.Single(monitor.CurrentValue.Models); // reading the options starts the watch
        }
    }
}
