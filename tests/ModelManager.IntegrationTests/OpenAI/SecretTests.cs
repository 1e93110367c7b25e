using Microsoft.Extensions.AI;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>The API key never shows up in logs, exceptions, stats, configuration dumps or <c>ToString()</c>, whatever goes wrong.</summary>
public sealed class SecretTests
{
    private const string Prompt = "Once upon a time";

    [Fact]
    public async Task CanaryKeys_AppearInNoLogLine_NoException_NoStatsAndNoToString()
    {
        var canary = "sk-canary-" + Guid.NewGuid().ToString("N");
        var plainCanary = "sk-plain-canary-" + Guid.NewGuid().ToString("N");
        var variable = "MM_TEST_CANARY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, canary);
        var serverLogs = new LogCapture();
        var logs = new LogCapture();
        var seen = new List<string>();

        // A real server that requires the key, and a hostile one that echoes whatever credentials it gets.
        await using var server = await ModelServerHost.StartAsync($$"""{ "max_memory_mb": 64, "models": [ {{RemoteManagers.Fake("small")}} ] }""", apiKey: canary, logs: serverLogs);
        await using var echo = new RawHttpServer(x =>
        {
            var auth = x.Request.Headers.TryGetValue("Authorization", out var a) ? a : "(none)";
            var headers = string.Join(", ", x.Request.Headers.Select(h => h.Key + "=" + h.Value));
            var body = System.Text.Json.JsonSerializer.Serialize(new { error = new { message = $"Incorrect API key provided: {auth}; your headers were {headers}" } });
            return x.Request.IsModels
                ? x.RespondAsync(401, body, "application/json", ("X-Echo", auth))
                : x.RespondAsync(500, body, "application/json", ("X-Echo", auth));
        });
        await using var stall = new RawHttpServer(x => x.StallAsync());
        var key = $"\"api_key_env\": \"{variable}\"";
        var (services, manager) = RemoteManagers.Create($$"""
            { "max_memory_mb": 64, "models": [
                {{RemoteManagers.Remote("good", server.V1.ToString(), "small", key)}},
                {{RemoteManagers.Remote("echo-load", echo.V1, extra: key + ", \"fallbacks\": [\"local\"], \"headers\": { \"X-Api-Key\": \"" + canary + "\" }")}},
                {{RemoteManagers.Remote("echo-call", echo.V1, extra: key + ", \"check_on_load\": false, \"max_retries\": 1")}},
                {{RemoteManagers.RemoteMany("dead", [$"http://127.0.0.1:{RawHttpServer.ClosedPort()}/v1"], extra: key)}},
                {{RemoteManagers.Remote("stalled", stall.V1, extra: key + ", \"check_on_load\": false, \"timeout_seconds\": 1, \"max_retries\": 0")}},
                {{RemoteManagers.Remote("plain", server.V1.ToString(), "small", $"\"api_key\": \"{plainCanary}\"")}},
                {{RemoteManagers.Fake("local")}} ] }
            """, logs);
        await using var _ = services;
        manager.ModelEvent += (_, e) => seen.Add($"{e} {e.Exception}");

        // Success: the key really is sent (the server demands it).
        var good = await manager.GetModel("good").GenerateAsync(Prompt);
        await foreach (var piece in manager.GetModel("good").GenerateStreamingAsync(Prompt))
        {
            seen.Add(piece);
        }

        // Failures of every kind, each one's full text (inner exceptions included) kept for the search.
        async Task Fail(Func<Task> call)
        {
            var e = await Record.ExceptionAsync(call);
            Assert.NotNull(e);
            seen.Add(e.ToString());
            for (var inner = e.InnerException; inner is not null; inner = inner.InnerException)
            {
                seen.Add(inner.Message);
            }

            if (e is ModelEndpointException endpoint)
            {
                seen.AddRange(endpoint.Failures.Select(f => f.ToString()));
            }
        }

        var fallback = await manager.GetModel("echo-load").GenerateAsync(Prompt); // the load fails on a 401 that echoes the key; the fallback answers
        await Fail(() => manager.LoadModelAsync("echo-load"));
        await Fail(() => manager.GetModel("echo-call").GenerateAsync(Prompt));
        await Fail(() => manager.LoadModelAsync("dead"));
        await Fail(() => manager.GetModel("stalled").GenerateAsync(Prompt));
        await Fail(() => manager.GetModel("plain").GenerateAsync(Prompt)); // the server rejects the wrong key with 401

        // Everything the manager shows about itself.
        seen.AddRange(manager.GetModelStats().Select(kv => kv.Value.ToString()));
        seen.AddRange(manager.GetModels().Select(m => $"{m} {m.Path} {m.Parameters} {string.Join(",", m.Fallbacks)}"));
        seen.Add(manager.GetMemoryUsage().ToString());
        seen.Add(string.Join(",", manager.GetMemoryUsage().Models.Select(m => m.ToString())));
        seen.Add(manager.GetModel("good").ToString()!);
        seen.Add(manager.GetModel("good").AsChatClient().ToString()!);
        seen.Add(manager.GetModel("good").AsChatClient().GetService<ChatClientMetadata>()?.ProviderUri?.ToString() ?? "");
        await using (var lease = await manager.AcquireAsync("good"))
        {
            seen.Add(lease.ToString()!);
        }

        var everything = seen.Concat(logs.AllText).Concat(serverLogs.AllText).ToList();
        foreach (var text in everything)
        {
            Assert.DoesNotContain(canary, text, StringComparison.Ordinal);
            Assert.DoesNotContain(plainCanary, text, StringComparison.Ordinal);
        }

        // The search was meaningful: the key travelled, the hostile server echoed it, and the failures were described.
        Assert.NotEmpty(good);
        Assert.Equal(await manager.GetModel("local").GenerateAsync(Prompt), fallback);
        Assert.Contains(echo.Received, r => r.Headers.TryGetValue("Authorization", out var a) && a == "Bearer " + canary);
        Assert.Contains(everything, t => t.Contains("[redacted]", StringComparison.Ordinal));
        Assert.Contains(everything, t => t.Contains("HTTP 401", StringComparison.Ordinal));
        Assert.Contains(everything, t => t.Contains("HTTP 500", StringComparison.Ordinal));
        Assert.Contains(everything, t => t.Contains("did not answer within 1 s", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.EventId == 1012 && e.Message.Contains("plaintext", StringComparison.Ordinal));
        Assert.Contains(logs.Entries, e => e.EventId == 4007 && e.Message.Contains(variable, StringComparison.Ordinal)); // the variable's name is fine to log
        Assert.True(logs.Entries.Count > 20 && serverLogs.Entries.Count > 20, $"{logs.Entries.Count} + {serverLogs.Entries.Count} log lines searched");
    }

    [Fact]
    public void SettingsAndSecrets_NeverPrintTheKey()
    {
        var secret = new Secret("sk-do-not-print");
        var text = string.Join(' ', secret.ToString(), string.Format(System.Globalization.CultureInfo.InvariantCulture, "{0}", secret), System.Text.Json.JsonSerializer.Serialize(secret));

        Assert.DoesNotContain("sk-do-not-print", text, StringComparison.Ordinal);
        Assert.Equal("key: [redacted] here", secret.Scrub("key: sk-do-not-print here"));
    }

    [Theory]
    [InlineData("sk-live-CANARY-4f9a2c")]
    [InlineData("http//CANARY-4f9a2c.example/v1")]
    [InlineData("ftp://host/v1?key=CANARY-4f9a2c")]
    public void AMalformedEndpoint_IsAnError_ThatDoesNotRepeatTheValue(string endpoint)
    {
        var error = Assert.Throws<ModelConfigurationException>(() => RemoteManagers.Create(
            $$"""{ "max_memory_mb": 64, "models": [ { "name": "r", "type": "openai", "endpoint": {{System.Text.Json.JsonSerializer.Serialize(endpoint)}} } ] }"""));

        Assert.Contains(error.Errors, e => e.StartsWith("models[0].endpoint: is not an absolute http:// or https:// URL", StringComparison.Ordinal));
        Assert.DoesNotContain("CANARY", error.ToString(), StringComparison.Ordinal);
    }
}
