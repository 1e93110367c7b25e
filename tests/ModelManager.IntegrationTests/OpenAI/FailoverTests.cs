using System.Diagnostics;
using Microsoft.Extensions.AI;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>Several endpoints: dead ones are skipped, live ones answer, and when all are dead the manager's fallbacks take over.</summary>
public sealed class FailoverTests
{
    private const string Prompt = "Once upon a time";

    [Fact]
    public async Task FirstEndpointDead_SecondAnswers_ThenBothDead_TheFallbackModelAnswers()
    {
        var logs = new LogCapture();
        var server = await ModelServerHost.StartAsync($$"""{ "max_memory_mb": 64, "models": [ {{RemoteManagers.Fake("served")}} ] }""");
        var dead = $"http://127.0.0.1:{RawHttpServer.ClosedPort()}/v1";
        var (services, manager) = RemoteManagers.Create($$"""
            { "max_memory_mb": 64, "models": [
                {{RemoteManagers.RemoteMany("remote", [dead, server.V1.ToString()], "served", "\"fallbacks\": [\"local\"], \"max_retries\": 1")}},
                {{RemoteManagers.Fake("local")}} ] }
            """, logs);
        await using var _ = services;
        var fallbacks = new List<ModelEventArgs>();
        manager.ModelEvent += (_, e) =>
        {
            if (e.Kind == ModelEventKind.FallbackUsed)
            {
                fallbacks.Add(e);
            }
        };
        var expected = (await server.Manager.GetModel("served").AsChatClient().GetResponseAsync(
            [new ChatMessage(ChatRole.User, Prompt)], new ChatOptions { Temperature = 0, MaxOutputTokens = 40 })).Text;

        // The first endpoint refuses connections: each call retries it, then fails over to the second.
        var first = await manager.GetModel("remote").GenerateAsync(Prompt);
        var second = await manager.GetModel("remote").GenerateAsync(Prompt);
        var third = await manager.GetModel("remote").GenerateAsync(Prompt); // its circuit is open now: skipped without a connection attempt

        Assert.Equal(expected, first);
        Assert.Equal(expected, second);
        Assert.Equal(expected, third);
        Assert.Equal(1, logs.Count(4004)); // the dead endpoint's circuit opened once
        Assert.True(logs.Count(4006) >= 1, "the dead endpoint was skipped");
        Assert.Empty(fallbacks);

        // Now both are dead. The loaded model's call finds every endpoint down (ModelEndpointException, a
        // ModelUnavailableException): the manager evicts it, its reload fails, and the fallback answers the same call.
        var evictions = new List<ModelEventArgs>();
        manager.ModelEvent += (_, e) =>
        {
            if (e.Kind == ModelEventKind.Evicted)
            {
                evictions.Add(e);
            }
        };
        await server.DisposeAsync();
        var text = await manager.GetModel("remote").GenerateAsync(Prompt);

        var evicted = Assert.Single(evictions);
        Assert.Equal(UnloadReason.Unavailable, evicted.Reason);

        Assert.Equal(await manager.GetModel("local").GenerateAsync(Prompt), text);
        var used = Assert.Single(fallbacks);
        Assert.Equal("remote", used.ModelName);
        Assert.Equal("local", used.Detail);
        var load = Assert.IsType<ModelLoadException>(used.Exception);
        Assert.Equal(2, Assert.IsType<ModelEndpointException>(load.InnerException).Failures.Count);
        Assert.Equal(1, manager.GetModelStats()["remote"].FallbackCount);
    }

    [Fact]
    public async Task AllEndpointsDeadAtStart_TheLoadFails_AndTheFallbackAnswersFromTheFirstCall()
    {
        var (services, manager) = RemoteManagers.Create($$"""
            { "max_memory_mb": 64, "models": [
                {{RemoteManagers.RemoteMany("remote", [$"http://127.0.0.1:{RawHttpServer.ClosedPort()}/v1", $"http://127.0.0.1:{RawHttpServer.ClosedPort()}/v1"], extra: "\"fallbacks\": [\"local\"]")}},
                {{RemoteManagers.Fake("local")}} ] }
            """);
        await using var _ = services;
        string? servedBy = null;
        manager.RegisterCallback(ModelEventKind.FallbackUsed, name => servedBy = name);

        var watch = Stopwatch.StartNew();
        await using var lease = await manager.AcquireAsync("remote");

        Assert.Equal("local", lease.ModelName);
        Assert.Equal("remote", servedBy);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"refused connections fail fast, not after the attempt timeout (timeout_seconds, 100 s by default): took {watch.Elapsed}");
    }
}
