using System.CommandLine;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelManager.Cli;

/// <summary><c>modelmanager ps</c> (or <c>status</c>): the models a running ModelServer holds, like <c>ollama ps</c>, from its <c>GET /v1/status</c>.</summary>
internal static class StatusCommand
{
    /// <summary>The environment variable ModelServer reads its key from; the tool sends the same one unless <c>--api-key</c> is given.</summary>
    public const string ApiKeyVariable = "MODELSERVER_API_KEY";

    public static Command Create(CliOptions common, string name)
    {
        var server = new Option<string>("--server")
        {
            Description = "The ModelServer's base URL",
            DefaultValueFactory = _ => ModelServer.ModelServerApp.DefaultUrl,
        };
        var apiKey = new Option<string?>("--api-key") { Description = $"The server's API key (default: the {ApiKeyVariable} environment variable)" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the server", DefaultValueFactory = _ => 10 };
        var command = new Command(name, "List the models a running ModelServer holds: state, priority, memory estimated and actual, leases, idle time left")
        {
            server, apiKey, timeout, common.Json,
        };
        command.SetAction((result, cancellationToken) => common.RunAsync(result, async (output, _) =>
        {
            if (!Uri.TryCreate(result.GetValue(server), UriKind.Absolute, out var baseUri) || baseUri.Scheme is not ("http" or "https"))
            {
                output.Error("--server: expected an http:// or https:// URL, e.g. " + ModelServer.ModelServerApp.DefaultUrl);
                return CliOptions.Failed;
            }

            var key = result.GetValue(apiKey) ?? Environment.GetEnvironmentVariable(ApiKeyVariable);
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(result.GetValue(timeout)) };
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(baseUri, "/v1/status"));
            if (!string.IsNullOrEmpty(key))
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
            }

            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                output.Error($"{baseUri}: no answer ({(e is TaskCanceledException ? "timed out" : e.Message)}); is ModelServer running there?");
                return CliOptions.Failed;
            }

            using (response)
            {
                var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    output.Error($"{baseUri}: {(int)response.StatusCode} {response.ReasonPhrase}: {ErrorMessage(body)}");
                    return CliOptions.Failed;
                }

                JsonNode? status;
                try
                {
                    status = JsonNode.Parse(body);
                }
                catch (JsonException)
                {
                    status = null;
                }

                if (status is not JsonObject)
                {
                    output.Error($"{baseUri}/v1/status did not answer with a JSON object; is that a ModelServer?");
                    return CliOptions.Failed;
                }

                if (output.Json)
                {
                    output.WriteJson(status);
                }
                else
                {
                    Write(output, status.AsObject());
                }

                return 0;
            }
        }));
        return command;
    }

    private static string ErrorMessage(string body)
    {
        try
        {
            return JsonNode.Parse(body)?["error"]?["message"]?.GetValue<string>() ?? body;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return body.Length > 200 ? body[..200] : body;
        }
    }

    private static void Write(CliOutput output, JsonObject status)
    {
        var memory = status["memory"];
        output.Line($"memory: {Text(memory?["used_mb"])} MB of {Text(memory?["limit_mb"])} MB used ({Text(memory?["available_mb"])} MB free)");
        var table = CliOutput.RightAlign(
            output.Table("NAME", "TYPE", "STATE", "PRIORITY", "MEMORY MB", "ESTIMATED MB", "ACTUAL MB", "LEASES", "LOADS", "EVICTIONS", "IDLE UNLOAD IN"),
            3, 4, 5, 6, 7, 8, 9);
        foreach (var model in status["models"]?.AsArray() ?? [])
        {
            CliOutput.Row(table, Text(model?["name"]), Text(model?["type"]), Text(model?["state"]), Text(model?["priority"]), Text(model?["memory_mb"]),
                Text(model?["estimated_mb"]), Text(model?["actual_mb"]), Text(model?["active_leases"]), Text(model?["load_count"]), Text(model?["eviction_count"]),
                IdleLeft(model?["expires_at"]));
        }

        output.Write(table);
        if (status["agents"] is JsonArray { Count: > 0 } agents)
        {
            var agentTable = output.Table("AGENT", "MODELS (in the order tried)");
            foreach (var agent in agents)
            {
                CliOutput.Row(agentTable, Text(agent?["name"]), agent?["models"] is JsonArray chain ? string.Join(" -> ", chain.Select(Text)) : "");
            }

            output.Write(agentTable);
        }
    }

    private static string Text(JsonNode? node) => node switch
    {
        null => "",
        JsonValue value when value.TryGetValue(out string? s) => s ?? "",
        _ => node.ToJsonString(),
    };

    /// <summary>The time until an idle model is unloaded, from the server's <c>expires_at</c>; "-" when it is not counting down.</summary>
    private static string IdleLeft(JsonNode? expiresAt)
    {
        if (Text(expiresAt) is not { Length: > 0 } text || !DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at))
        {
            return "-";
        }

        var left = at - TimeProvider.System.GetUtcNow();
        return left <= TimeSpan.Zero ? "now" : left.TotalHours >= 1 ? $"{(int)left.TotalHours}h{left.Minutes:00}m" : $"{(int)left.TotalMinutes}m{left.Seconds:00}s";
    }
}
