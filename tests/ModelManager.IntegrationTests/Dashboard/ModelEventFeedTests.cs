using System.Text.Json;
using ModelManager.IntegrationTests.OpenAI;
using ModelServer.Api;

namespace ModelManager.IntegrationTests.Dashboard;

/// <summary>The feed behind <c>/v1/events</c>, on the server's own instance: a slow client's buffer is bounded, and error text is scrubbed.</summary>
public sealed class ModelEventFeedTests
{
    [Fact]
    public async Task Subscribe_AClientThatNeverReads_KeepsOnlyTheNewestEvents_AndCountsTheDropped()
    {
        // Fake models: the claim is about the server's buffer, and 400 real load/unload events are quick only on them.
        await using var server = await ModelServerHost.StartAsync($$"""{ "max_memory_mb": 64, "models": [ {{RemoteManagers.Fake("small", sizeMb: 1)}} ] }""",
            apiKey: DashboardModels.ApiKey);
        var feed = server.EventFeed;
        using var slow = feed.Subscribe();
        const int Cycles = 200; // a load and an unload each: 400 events, more than a client's buffer

        for (var i = 0; i < Cycles; i++)
        {
            await server.Manager.LoadModelAsync("small");
            await server.Manager.UnloadModelAsync("small");
        }

        var buffered = new List<ModelEventFeed.FeedEvent>();
        while (slow.Events.TryRead(out var item))
        {
            buffered.Add(item);
        }

        using var http = EventsEndpointTests.Authorized(server);
        using var status = JsonDocument.Parse(await http.GetStringAsync("v1/status"));
        Assert.Equal(ModelEventFeed.ClientBufferSize, buffered.Count);
        Assert.Equal(2 * Cycles - ModelEventFeed.ClientBufferSize, feed.Dropped);
        Assert.Equal(feed.Dropped, status.RootElement.GetProperty("events").GetProperty("dropped").GetInt64());
        Assert.Equal(Enumerable.Range((int)buffered[^1].Id - buffered.Count + 1, buffered.Count).Select(i => (long)i), buffered.Select(e => e.Id)); // the newest, in order, no gap
        using var last = JsonDocument.Parse(buffered[^1].Json);
        Assert.Equal("Unloaded", last.RootElement.GetProperty("kind").GetString());
        using var late = feed.Subscribe();
        Assert.Equal(ModelEventFeed.HistorySize, late.History.Count); // a newcomer gets the kept tail, not everything
    }

    [Fact]
    public async Task Scrub_ReplacesUrlsAndTheServersKey_AndKeepsTheRest()
    {
        await using var server = await ModelServerHost.StartAsync($$"""
            { "max_memory_mb": 64, "models": [ {{RemoteManagers.Fake("small")}}, {{RemoteManagers.Remote("remote", "http://llm.internal.example:8080/v1")}} ] }
            """, apiKey: DashboardModels.ApiKey);
        var feed = server.EventFeed;

        var text = feed.Scrub($"ModelEndpointException: Model 'r': endpoint https://user:sk-123@api.example.com/v1?api-key=abc answered HTTP 401 for {DashboardModels.ApiKey}\nsecond line");
        var socket = feed.Scrub("HttpRequestException: Connection refused (llm.internal.example:8080); no such host: LLM.internal.example");

        Assert.Equal("ModelEndpointException: Model 'r': endpoint [endpoint] answered HTTP 401 for [redacted] second line", text);
        Assert.Equal("HttpRequestException: Connection refused ([endpoint]); no such host: [endpoint]", socket);
        Assert.Equal(300, feed.Scrub(new string('x', 1000)).Length);
    }
}
