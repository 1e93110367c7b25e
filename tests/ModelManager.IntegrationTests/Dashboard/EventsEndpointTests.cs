using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using ModelManager.IntegrationTests.OpenAI;
using ModelServer;

namespace ModelManager.IntegrationTests.Dashboard;

/// <summary><c>GET /v1/events</c> (the dashboard's one connection) and the fields the dashboard reads from <c>GET /v1/status</c>, over plain HttpClient.</summary>
public sealed class EventsEndpointTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Events_NeedTheKey_AndOnlyTakeGet()
    {
        await using var server = await ModelServerHost.StartAsync(DashboardModels.TwoStoriesConfig(), apiKey: DashboardModels.ApiKey);
        using var http = new HttpClient { BaseAddress = server.Address };

        using var missing = await http.GetAsync("v1/events", HttpCompletionOption.ResponseHeadersRead);
        using var wrong = await Send(http, HttpMethod.Get, "v1/events", "wrong-key");
        using var post = await Send(http, HttpMethod.Post, "v1/events", DashboardModels.ApiKey);
        using var badInterval = await Send(http, HttpMethod.Get, "v1/events?status_interval=soon", DashboardModels.ApiKey);
        using var page = await http.GetAsync("/");

        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Contains("invalid_api_key", await missing.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal("GET", post.Content.Headers.Allow.Single());
        Assert.Equal(HttpStatusCode.BadRequest, badInterval.StatusCode);
        Assert.Contains("\"param\":\"status_interval\"", await badInterval.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(0, server.EventFeed.Clients); // none of those subscribed

        // The page itself is public and holds no data: only the script that asks for the key.
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("/dashboard/dashboard.js", html, StringComparison.Ordinal);
        Assert.DoesNotContain("stories", html, StringComparison.Ordinal);
        Assert.Contains("script-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        foreach (var asset in new[] { "dashboard/dashboard.js", "dashboard/dashboard.css" })
        {
            using var response = await http.GetAsync(asset);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True((await response.Content.ReadAsByteArrayAsync()).Length > 1000, asset);
        }

        using var unknownAsset = await http.GetAsync("dashboard/nothing.js");
        Assert.Equal(HttpStatusCode.NotFound, unknownAsset.StatusCode);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Events_StreamTheLoadAndTheUnloadOfStories260K_AfterTheKeptPreload()
    {
        await using var server = await ModelServerHost.StartAsync(DashboardModels.TwoStoriesConfig(), apiKey: DashboardModels.ApiKey);
        using var http = Authorized(server);
        using var timeout = new CancellationTokenSource(Bound);
        using var events = await EventStream.OpenAsync(http, "v1/events?status_interval=0");

        var connected = await events.ReadAsync(timeout.Token);
        var preload = await events.ReadModelEventAsync(_ => true, timeout.Token); // kept from before the client connected
        using (var response = await DashboardModels.ChatAsync(http, "stories-b"))
        {
            response.EnsureSuccessStatusCode();
        }

        var evicted = await events.ReadModelEventAsync(e => e.GetProperty("kind").GetString() == "Evicted", timeout.Token);
        var loaded = await events.ReadModelEventAsync(e => e.GetProperty("kind").GetString() == "Loaded", timeout.Token);
        Assert.True(await server.Manager.UnloadModelAsync("stories-b"));
        var unloaded = await events.ReadModelEventAsync(e => e.GetProperty("kind").GetString() == "Unloaded", timeout.Token);

        Assert.Equal("connected", connected.Data);
        Assert.Equal(("Loaded", "stories"), (preload.GetProperty("kind").GetString(), preload.GetProperty("model").GetString()));
        Assert.Equal(("stories", "Capacity"), (evicted.GetProperty("model").GetString(), evicted.GetProperty("reason").GetString()));
        Assert.Equal("stories-b", loaded.GetProperty("model").GetString());
        var estimate = server.Manager.GetModelStats()["stories-b"].EstimatedBytes / (1024.0 * 1024);
        Assert.Equal(Math.Round(estimate, 1), loaded.GetProperty("mb").GetDouble(), 1);
        Assert.True(loaded.GetProperty("mb").GetDouble() > 1, "stories260K takes megabytes");
        Assert.Equal(("stories-b", "Requested"), (unloaded.GetProperty("model").GetString(), unloaded.GetProperty("reason").GetString()));
        Assert.Equal(JsonValueKind.Null, loaded.GetProperty("error").ValueKind);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Events_SendStatusSnapshotsAndHeartbeats_OnTheOneConnection()
    {
        await using var server = await ModelServerHost.StartAsync(DashboardModels.TwoStoriesConfig(), apiKey: DashboardModels.ApiKey,
            settings: new Dictionary<string, string?> { [ModelServerApp.EventsHeartbeatSetting] = "0.2" });
        using var http = Authorized(server);
        using var timeout = new CancellationTokenSource(Bound);
        using var events = await EventStream.OpenAsync(http, "v1/events?status_interval=0.5");

        var statuses = new List<JsonElement>();
        var heartbeats = 0;
        while (statuses.Count < 3 || heartbeats < 3)
        {
            var frame = await events.ReadAsync(timeout.Token);
            if (frame.Type == "status")
            {
                statuses.Add(JsonDocument.Parse(frame.Data).RootElement.Clone());
            }
            else if (frame.Type is null && frame.Data == "heartbeat")
            {
                heartbeats++;
            }
        }

        var last = statuses[^1];
        Assert.Equal(12, last.GetProperty("memory").GetProperty("limit_mb").GetDouble());
        Assert.Contains(last.GetProperty("models").EnumerateArray(), m => m.GetProperty("name").GetString() == "stories" && m.GetProperty("state").GetString() == "Ready");
        Assert.Equal(1, last.GetProperty("events").GetProperty("clients").GetInt32()); // this stream
        var times = statuses.Select(s => DateTimeOffset.Parse(s.GetProperty("time").GetString()!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(times[^1] - times[0] >= TimeSpan.FromSeconds(0.9), $"3 snapshots 0.5 s apart span {(times[^1] - times[0]).TotalSeconds:F2} s");
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Events_EndWhenTheClientDisconnects_AndItsSubscriptionIsRemoved()
    {
        await using var server = await ModelServerHost.StartAsync(DashboardModels.TwoStoriesConfig(), apiKey: DashboardModels.ApiKey);
        using var http = Authorized(server);
        using var timeout = new CancellationTokenSource(Bound);

        var first = await EventStream.OpenAsync(http);
        using var second = await EventStream.OpenAsync(http);
        await first.ReadAsync(timeout.Token);
        await second.ReadAsync(timeout.Token);
        var whileOpen = await ClientsAsync(http);
        first.Dispose(); // closes the connection

        var clients = whileOpen;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (clients != 1 && watch.Elapsed < TimeSpan.FromSeconds(30)) // a hang bound: the point is that the subscription goes, not how fast on a busy machine
        {
            await Task.Delay(20);
            clients = await ClientsAsync(http);
        }

        Assert.Equal(2, whileOpen);
        Assert.Equal(1, clients);

        // The remaining client still gets events: the departed one took only its own subscription.
        using (var response = await DashboardModels.ChatAsync(http, "stories-b"))
        {
            response.EnsureSuccessStatusCode();
        }

        var evicted = await second.ReadModelEventAsync(e => e.GetProperty("kind").GetString() == "Evicted", timeout.Token);
        Assert.Equal("stories", evicted.GetProperty("model").GetString());
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Events_AFailedLoadAndItsFallback_AreStreamed_WithoutTheEndpointUrlOrTheServersKey()
    {
        var port = RawHttpServer.ClosedPort();
        var endpoint = $"http://127.0.0.1:{port}/v1";
        await using var server = await ModelServerHost.StartAsync($$"""
            { "max_memory_mb": 64, "models": [
                {{RemoteManagers.Remote("remote", endpoint, extra: "\"max_retries\": 0, \"fallbacks\": [\"stories\"]")}},
                {{GgufManagers.Stories()}} ] }
            """, apiKey: DashboardModels.ApiKey);
        using var http = Authorized(server);
        using var timeout = new CancellationTokenSource(Bound);
        using var events = await EventStream.OpenAsync(http, "v1/events?status_interval=0");

        using (var response = await DashboardModels.ChatAsync(http, "remote"))
        {
            response.EnsureSuccessStatusCode(); // stories answered
        }

        var failed = await events.ReadModelEventAsync(e => e.GetProperty("kind").GetString() == "LoadFailed", timeout.Token);
        var fallback = await events.ReadModelEventAsync(e => e.GetProperty("kind").GetString() == "FallbackUsed", timeout.Token);

        var error = failed.GetProperty("error").GetString()!;
        Assert.Equal("remote", failed.GetProperty("model").GetString());
        Assert.Contains("[endpoint]", error, StringComparison.Ordinal);
        Assert.DoesNotContain($"127.0.0.1:{port}", error, StringComparison.Ordinal);
        Assert.Equal("stories", fallback.GetProperty("served_by").GetString());
        Assert.DoesNotContain($"127.0.0.1:{port}", fallback.GetProperty("error").GetString()!, StringComparison.Ordinal);

        // The same failure in the manager's own exception does name the endpoint: the stream's text was scrubbed, not merely short.
        var direct = await Record.ExceptionAsync(() => server.Manager.LoadModelAsync("remote"));
        Assert.Contains($"127.0.0.1:{port}", direct!.ToString(), StringComparison.Ordinal);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Status_ListsTheAgentsAndTheirModels_AndKeepsEveryFieldItHadBefore()
    {
        await using var server = await ModelServerHost.StartAsync(DashboardModels.TwoStoriesConfig(), apiKey: DashboardModels.ApiKey);
        using var http = Authorized(server);

        using var status = JsonDocument.Parse(await http.GetStringAsync("v1/status"));

        var agents = status.RootElement.GetProperty("agents").EnumerateArray()
            .ToDictionary(a => a.GetProperty("name").GetString()!, a => a.GetProperty("models").EnumerateArray().Select(m => m.GetString()!).ToArray());
        Assert.Equal(["stories", "stories-b"], agents["StoryAgent"]);
        Assert.Equal(["broken", "stories-b"], agents["ReviewerAgent"]);
        Assert.Equal(server.Manager.GetAgents().Keys.Order(), agents.Keys.Order());

        // What modelmanager ps and older clients read: fields are only ever added.
        string[] memoryFields = ["used_mb", "limit_mb", "available_mb", "used_fraction"];
        string[] modelFields = ["name", "type", "state", "memory_mb", "estimated_mb", "actual_mb", "active_leases", "priority", "access_count", "load_count",
            "eviction_count", "failure_count", "fallback_count", "last_access", "last_load_ms", "expires_at"];
        var memory = status.RootElement.GetProperty("memory");
        Assert.All(memoryFields, f => Assert.True(memory.TryGetProperty(f, out _), f));
        var stories = status.RootElement.GetProperty("models").EnumerateArray().Single(m => m.GetProperty("name").GetString() == "stories");
        Assert.All(modelFields, f => Assert.True(stories.TryGetProperty(f, out _), f));
        Assert.Equal("Ready", stories.GetProperty("state").GetString());
        Assert.NotEqual(JsonValueKind.Null, stories.GetProperty("expires_at").ValueKind); // max_idle_time 600
    }

    internal static HttpClient Authorized(ModelServerHost server)
    {
        var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = server.Address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", DashboardModels.ApiKey);
        return http;
    }

    private static async Task<int> ClientsAsync(HttpClient http)
    {
        using var status = JsonDocument.Parse(await http.GetStringAsync("v1/status"));
        return status.RootElement.GetProperty("events").GetProperty("clients").GetInt32();
    }

    private static async Task<HttpResponseMessage> Send(HttpClient http, HttpMethod method, string path, string key)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }
}
