using System.Text.Json.Nodes;
using ModelManager;

namespace ModelServer.Api;

/// <summary><c>GET /v1/status</c>: the memory budget and every model's state and counters, like <c>ollama ps</c>.</summary>
internal static class StatusEndpoint
{
    private const double Mb = 1024 * 1024;

    public static IResult Get(IModelManager manager, TimeProvider time, ModelEventFeed feed) => Json.Ok(Snapshot(manager, time, feed));

    /// <summary>The body of <c>GET /v1/status</c>, also sent every second on <c>/v1/events</c>. Fields are only ever added: <c>modelmanager ps</c> reads them.</summary>
    public static JsonObject Snapshot(IModelManager manager, TimeProvider time, ModelEventFeed feed)
    {
        var now = time.GetUtcNow();
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
                ? (s.LastAccessUtc ?? now) + descriptor.MaxIdleTime
                : null;
            models.Add(new JsonObject
            {
                ["name"] = s.Name,
                ["type"] = s.Type,
                ["state"] = s.State.ToString(),
                ["memory_mb"] = Math.Round(s.MemoryUsageMb, 1),
                ["estimated_mb"] = Math.Round(s.EstimatedBytes / Mb, 1),
                ["actual_mb"] = Math.Round(s.ActualBytes / Mb, 1),
                ["cache_mb"] = Math.Round((usage.Models.TryGetValue(s.Name, out var held) ? held.CacheBytes : 0) / Mb, 1),
                ["active_leases"] = s.ActiveLeases,
                ["active_calls"] = s.ActiveCalls,
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

        var agents = new JsonArray();
        foreach (var (name, chain) in manager.GetAgents().OrderBy(a => a.Key, StringComparer.Ordinal))
        {
            agents.Add(new JsonObject { ["name"] = name, ["models"] = new JsonArray([.. chain.Select(m => JsonValue.Create(m))]) });
        }

        return new JsonObject
        {
            ["time"] = now.ToString("O"),
            ["memory"] = new JsonObject
            {
                ["used_mb"] = Math.Round(usage.TotalMb, 1),
                ["limit_mb"] = Math.Round(usage.LimitMb, 1),
                ["available_mb"] = Math.Round(usage.AvailableBytes / Mb, 1),
                ["used_fraction"] = Math.Round(usage.UsedFraction, 4),
            },
            ["models"] = models,
            ["agents"] = agents,
            ["events"] = new JsonObject { ["clients"] = feed.Clients, ["dropped"] = feed.Dropped },
        };
    }
}
