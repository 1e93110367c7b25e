using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace ModelServer.Api;

/// <summary><c>GET /health</c>: the manager's health check as JSON (200 when healthy or degraded, 503 when unhealthy).</summary>
internal static class HealthEndpoint
{
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        var checks = new JsonObject();
        foreach (var (name, entry) in report.Entries)
        {
            var data = new JsonObject();
            foreach (var (key, value) in entry.Data)
            {
                data[key] = JsonSerializer.SerializeToNode(value);
            }

            checks[name] = new JsonObject
            {
                ["status"] = entry.Status.ToString(),
                ["description"] = entry.Description,
                ["data"] = data,
            };
        }

        var body = new JsonObject { ["status"] = report.Status.ToString(), ["checks"] = checks };
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(Json.Text(body), context.RequestAborted);
    }
}
