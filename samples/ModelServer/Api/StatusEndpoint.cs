using System.Text.Json.Nodes;
using ModelManager;

namespace ModelServer.Api;

/// <summary><c>GET /v1/status</c>: the memory budget and every model's state and counters, like <c>ollama ps</c>.</summary>
internal static class StatusEndpoint
{
    private const double Mb = 1024 * 1024;

    public static IResult Get(IModelManager manager, TimeProvider time)
    {
        var usage = manager.GetMemoryUsage();
        var stats = manager.GetModelStats();
        var models = new JsonArray();
        foreach (var descriptor in manager.GetModels())
        {
            if (!stats.TryGetValue(descriptor.Name, out var s))
            {
                continue;
            }

            DateTimeOffset? expires = s.State == ModelState.Ready && descriptor.MaxIdleTime > TimeSpan.Zero && s.ActiveLeases == 0
                ? (s.LastAccessUtc ?? time.GetUtcNow()) + descriptor.MaxIdleTime
                : null;
            models.Add(new JsonObject
            {
                ["name"] = s.Name,
                ["type"] = s.Type,
                ["state"] = s.State.ToString(),
                ["memory_mb"] = Math.Round(s.MemoryUsageMb, 1),
                ["estimated_mb"] = Math.Round(s.EstimatedBytes / Mb, 1),
                ["actual_mb"] = Math.Round(s.ActualBytes / Mb, 1),
                ["active_leases"] = s.ActiveLeases,
                ["priority"] = s.Priority,
                ["access_count"] = s.AccessCount,
                ["load_count"] = s.LoadCount,
                ["eviction_count"] = s.EvictionCount,
                ["failure_count"] = s.FailureCount,
                ["fallback_count"] = s.FallbackCount,
                ["last_access"] = s.LastAccessUtc?.ToString("O"),
                ["last_load_ms"] = s.LastLoadDuration is { } d ? Math.Round(d.TotalMilliseconds) : null,
                ["expires_at"] = expires?.ToString("O"),
            });
        }

        var body = new JsonObject
        {
            ["memory"] = new JsonObject
            {
                ["used_mb"] = Math.Round(usage.TotalMb, 1),
                ["limit_mb"] = Math.Round(usage.LimitMb, 1),
                ["available_mb"] = Math.Round(usage.AvailableBytes / Mb, 1),
                ["used_fraction"] = Math.Round(usage.UsedFraction, 4),
            },
            ["models"] = models,
        };
        return Json.Ok(body);
    }
}
