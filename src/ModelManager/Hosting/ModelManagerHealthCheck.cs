using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ModelManager;

/// <summary>Unhealthy when a preloaded model is not loaded because its load failed; degraded under memory pressure.</summary>
/// <remarks>Reads a snapshot of stats and memory; cheap enough for a liveness probe.</remarks>
internal sealed class ModelManagerHealthCheck(IModelManager manager) : IHealthCheck
{
    /// <summary>Used fraction of the budget above which the manager reports Degraded.</summary>
    internal const double PressureThreshold = 0.9;

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        MemoryUsage usage;
        IReadOnlyDictionary<string, ModelStats> stats;
        try
        {
            usage = manager.GetMemoryUsage();
            stats = manager.GetModelStats();
        }
        catch (ObjectDisposedException)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("The model manager has been shut down."));
        }

        var data = new Dictionary<string, object>
        {
            ["memory_used_mb"] = Math.Round(usage.TotalMb, 1),
            ["memory_limit_mb"] = Math.Round(usage.LimitMb, 1),
            ["models_loaded"] = stats.Values.Count(s => s.State == ModelState.Ready),
        };

        var preloaded = manager.GetModels().Where(m => m.Preload).Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        var failed = stats.Values
            .Where(s => preloaded.Contains(s.Name) && s.State != ModelState.Ready && s.State != ModelState.Loading && s.FailureCount > 0)
            .Select(s => s.Name)
            .ToList();
        if (failed.Count > 0)
        {
            data["failed_preloads"] = failed;
            return Task.FromResult(HealthCheckResult.Unhealthy($"Preloaded model(s) failed to load: {string.Join(", ", failed)}.", data: data));
        }

        if (usage.UsedFraction >= PressureThreshold)
        {
            return Task.FromResult(HealthCheckResult.Degraded($"Memory pressure: {usage.TotalMb:F0} of {usage.LimitMb:F0} MB in use.", data: data));
        }

        return Task.FromResult(HealthCheckResult.Healthy($"{data["models_loaded"]} model(s) loaded, {usage.TotalMb:F0} of {usage.LimitMb:F0} MB in use.", data));
    }
}
