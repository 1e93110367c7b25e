using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace ModelManager.Tests;

public sealed class ModelManagerMetricsTests
{
    private const string Json = """
        { "max_memory_mb": 100, "models": [
            { "name": "a", "type": "fake", "memory_priority": 5, "parameters": { "size_mb": 60 } },
            { "name": "b", "type": "fake", "memory_priority": 1, "parameters": { "size_mb": 60 }, "fallbacks": [ "c" ] },
            { "name": "c", "type": "fake", "parameters": { "size_mb": 1 } },
            { "name": "broken", "type": "fake", "parameters": { "fail_load": true }, "fallbacks": [ "c" ] } ] }
        """;

    [Fact]
    public async Task Instruments_CountLoadsEvictionsFailuresFallbacks_AndObserveMemory()
    {
        var services = new ServiceCollection();
        services.AddMetrics();
        services.AddModelManager(ServiceCollectionTests.WriteConfig(Json)).AddFakeBackend();
        await using var sp = services.BuildServiceProvider();
        var factory = sp.GetRequiredService<IMeterFactory>();
        using var loads = new MetricCollector<long>(factory, ModelManagerTags.SourceName, "modelmanager.loads");
        using var duration = new MetricCollector<double>(factory, ModelManagerTags.SourceName, "modelmanager.load.duration");
        using var evictions = new MetricCollector<long>(factory, ModelManagerTags.SourceName, "modelmanager.evictions");
        using var failures = new MetricCollector<long>(factory, ModelManagerTags.SourceName, "modelmanager.load.failures");
        using var fallbacks = new MetricCollector<long>(factory, ModelManagerTags.SourceName, "modelmanager.fallbacks");
        using var used = new MetricCollector<long>(factory, ModelManagerTags.SourceName, "modelmanager.memory.used");
        using var limit = new MetricCollector<long>(factory, ModelManagerTags.SourceName, "modelmanager.memory.limit");
        var manager = sp.GetRequiredService<IModelManager>();

        await manager.LoadModelAsync("a");
        await manager.LoadModelAsync("b"); // evicts a
        await manager.GetModel("broken").GenerateAsync("x"); // fails, c serves

        Assert.Equal(3, loads.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Contains(loads.GetMeasurementSnapshot(), m => Equals(m.Tags[ModelManagerTags.Model], "b") && Equals(m.Tags[ModelManagerTags.ModelType], "fake"));
        Assert.Equal(3, duration.GetMeasurementSnapshot().Count);
        var eviction = Assert.Single(evictions.GetMeasurementSnapshot());
        Assert.Equal("a", eviction.Tags[ModelManagerTags.Model]);
        Assert.Equal("Capacity", eviction.Tags[ModelManagerTags.Reason]);
        Assert.Equal("broken", Assert.Single(failures.GetMeasurementSnapshot()).Tags[ModelManagerTags.Model]);
        Assert.Equal("c", Assert.Single(fallbacks.GetMeasurementSnapshot()).Tags[ModelManagerTags.Fallback]);

        used.RecordObservableInstruments();
        limit.RecordObservableInstruments();
        Assert.Equal(61L * 1024 * 1024, used.LastMeasurement!.Value);
        Assert.Equal(100L * 1024 * 1024, limit.LastMeasurement!.Value);
    }

    [Fact]
    public async Task Activities_AreEmittedForLoadsAndUnloads()
    {
        var activities = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == ModelManagerTags.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (activities) { activities.Add(a); } },
        };
        ActivitySource.AddActivityListener(listener);
        var (m, _) = TestManagers.FromJson(Json);

        await m.LoadModelAsync("a");
        await m.UnloadModelAsync("a");
        await Assert.ThrowsAsync<ModelLoadException>(() => m.LoadModelAsync("broken"));

        lock (activities)
        {
            var mine = activities.Where(a => a.GetTagItem(ModelManagerTags.Model) is "a" or "broken").ToList();
            Assert.Contains(mine, a => a.OperationName == "modelmanager.load" && Equals(a.GetTagItem(ModelManagerTags.Model), "a") && a.Status == ActivityStatusCode.Unset);
            Assert.Contains(mine, a => a.OperationName == "modelmanager.unload" && Equals(a.GetTagItem(ModelManagerTags.Reason), "Requested"));
            Assert.Contains(mine, a => a.OperationName == "modelmanager.load" && Equals(a.GetTagItem(ModelManagerTags.Model), "broken") && a.Status == ActivityStatusCode.Error);
        }
    }

    [Fact]
    public async Task HealthCheck_UnhealthyOnFailedPreload_DegradedUnderPressure_HealthyOtherwise()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddModelManager(ServiceCollectionTests.WriteConfig("""
            { "max_memory_mb": 100, "models": [
                { "name": "big", "type": "fake", "parameters": { "size_mb": 95 } },
                { "name": "pre", "type": "fake", "preload": true, "parameters": { "size_mb": 1, "fail_load": true } } ] }
            """)).AddFakeBackend().AddHealthCheck();
        await using var sp = services.BuildServiceProvider();
        var health = sp.GetRequiredService<HealthCheckService>();
        var manager = (DefaultModelManager)sp.GetRequiredService<IModelManager>();

        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
        await manager.PreloadAsync(CancellationToken.None);
        var report = await health.CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Contains("pre", report.Entries["modelmanager"].Description, StringComparison.Ordinal);

        var (m2, _) = TestManagers.FromJson("""{ "max_memory_mb": 100, "models": [ { "name": "big", "type": "fake", "parameters": { "size_mb": 95 } } ] }""");
        var check = new ModelManagerHealthCheck(m2);
        Assert.Equal(HealthStatus.Healthy, (await check.CheckHealthAsync(new HealthCheckContext())).Status);
        await m2.LoadModelAsync("big");
        var degraded = await check.CheckHealthAsync(new HealthCheckContext());
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Equal(95.0, degraded.Data["memory_used_mb"]);
    }
}
