using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>The <c>openai</c> backend end to end: a manager in the test process uses models that a second manager serves over loopback HTTP.</summary>
public sealed class OpenAIBackendTests
{
    private const string Prompt = "Once upon a time";

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task RemoteModel_ServedByAnotherManager_GivesTheServedModelsOwnOutput()
    {
        await using var server = await ModelServerHost.StartAsync($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Stories()}} ] }""");
        var (services, manager) = RemoteManagers.Create($$"""{ "max_memory_mb": 64, "models": [ {{RemoteManagers.Remote("remote", server.V1.ToString(), "stories")}} ] }""");
        await using var _ = services;
        var served = server.Manager.GetModel("stories").AsChatClient();
        var greedy = new ChatOptions { Temperature = 0, MaxOutputTokens = 40 };
        ChatMessage[] conversation = [new(ChatRole.System, "You tell stories."), new(ChatRole.User, "Tell me about Lily."), new(ChatRole.Assistant, "Lily was"), new(ChatRole.User, Prompt)];

        var expectedGenerate = (await served.GetResponseAsync([new ChatMessage(ChatRole.User, Prompt)], greedy)).Text;
        var expectedChat = (await served.GetResponseAsync(conversation, greedy)).Text;

        var remote = manager.GetModel("remote");
        var generated = await remote.GenerateAsync(Prompt);
        var pieces = new List<string>();
        await foreach (var piece in remote.GenerateStreamingAsync(Prompt))
        {
            pieces.Add(piece);
        }

        var chat = (await remote.AsChatClient().GetResponseAsync(conversation, greedy)).Text;

        Assert.True(expectedGenerate.Length > 20, $"too short to compare: «{expectedGenerate}»");
        Assert.Equal(expectedGenerate, generated);
        Assert.Equal(expectedGenerate, string.Concat(pieces));
        Assert.True(pieces.Count > 5, $"streamed in {pieces.Count} pieces");
        Assert.Equal(expectedChat, chat);
        Assert.NotEqual(expectedGenerate, expectedChat);
        var stats = manager.GetModelStats()["remote"];
        Assert.Equal(ModelState.Ready, stats.State);
        Assert.Equal(0, stats.MemoryUsageMb);
        Assert.Equal(1, stats.LoadCount);
        Assert.Equal(0, manager.GetMemoryUsage().TotalBytes);
    }

    [Fact]
    public async Task Requests_CarryTheModelId_TheKey_TheHeaders_AndTheMappedOptions()
    {
        var variable = "MM_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, "sk-test-123");
        await using var server = new RawHttpServer(x => x.IsChatOr(() => x.StreamAnswerAsync("a", "b")));
        var (services, manager) = RemoteManagers.Create($$"""
            { "max_memory_mb": 64, "models": [
                {{RemoteManagers.Remote("keyed", server.V1, "org/model-7b", $"\"api_key_env\": \"{variable}\", \"headers\": {{ \"X-Team\": \"blue\" }}")}},
                { "name": "keyless", "type": "openai", "path": "{{server.V1}}", "parameters": { "temperature": 0.7, "top_p": 0.9, "seed": 42, "max_tokens": 12, "stop": ["\n\n", "END"] } } ] }
            """);
        await using var _ = services;

        await manager.GetModel("keyed").GenerateAsync(Prompt);
        await manager.GetModel("keyless").GenerateAsync(Prompt);

        var chats = server.Received.Where(r => r.IsChat).ToList();
        var models = server.Received.Where(r => r.IsModels).ToList();
        Assert.Equal(2, chats.Count);
        Assert.Equal(2, models.Count); // check_on_load defaults to true
        Assert.Equal("Bearer sk-test-123", chats[0].Headers["Authorization"]);
        Assert.Equal("Bearer sk-test-123", models[0].Headers["Authorization"]);
        Assert.Equal("blue", chats[0].Headers["X-Team"]);
        Assert.False(chats[1].Headers.ContainsKey("Authorization"), "no key configured: no Authorization header at all");
        Assert.False(models[1].Headers.ContainsKey("Authorization"));
        Assert.Equal("/v1/chat/completions", chats[0].Path);

        using var greedy = JsonDocument.Parse(chats[0].Body);
        Assert.Equal("org/model-7b", greedy.RootElement.GetProperty("model").GetString());
        Assert.True(greedy.RootElement.GetProperty("stream").GetBoolean());
        Assert.Equal(0, greedy.RootElement.GetProperty("temperature").GetDouble()); // do_sample false = greedy = temperature 0
        Assert.Equal(40, greedy.RootElement.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal("user", greedy.RootElement.GetProperty("messages")[0].GetProperty("role").GetString());
        Assert.Equal(Prompt, greedy.RootElement.GetProperty("messages")[0].GetProperty("content").GetString());

        using var sampled = JsonDocument.Parse(chats[1].Body);
        Assert.Equal("keyless", sampled.RootElement.GetProperty("model").GetString()); // the managed name by default
        Assert.Equal(0.7, sampled.RootElement.GetProperty("temperature").GetDouble(), 3);
        Assert.Equal(0.9, sampled.RootElement.GetProperty("top_p").GetDouble(), 3);
        Assert.Equal(42, sampled.RootElement.GetProperty("seed").GetInt64());
        Assert.Equal(12, sampled.RootElement.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal(["\n\n", "END"], sampled.RootElement.GetProperty("stop").EnumerateArray().Select(e => e.GetString()!));
    }

    [Fact]
    public async Task StopSequences_AreAppliedLocallyToo_WhenTheServerIgnoresThem()
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(() => x.StreamAnswerAsync("The end", " is ne", "ar. END and more")));
        var (services, manager) = RemoteManagers.Create($$"""{ "models": [ {{RemoteManagers.Remote("remote", server.V1, extra: "\"check_on_load\": false")}} ] }""");
        await using var _ = services;

        var text = await manager.GetModel("remote").GenerateAsync(Prompt, new GenerationOptions { StopSequences = ["END"] });

        Assert.Equal("The end is near. ", text);
    }

    [Fact]
    public async Task CheckOnLoad_False_SendsNothingUntilTheFirstCall()
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(() => x.StreamAnswerAsync("ok")));
        var (services, manager) = RemoteManagers.Create($$"""{ "models": [ {{RemoteManagers.Remote("remote", server.V1, extra: "\"check_on_load\": false")}} ] }""");
        await using var _ = services;

        await manager.LoadModelAsync("remote");
        var before = server.Received.Count;
        await manager.GetModel("remote").GenerateAsync(Prompt);

        Assert.Equal(0, before);
        Assert.Single(server.Received);
    }

    [Fact]
    public async Task UnloadingTheModel_DisposesItsClient_AndTheNextCallReloads()
    {
        var logs = new LogCapture();
        await using var server = new RawHttpServer(x => x.IsChatOr(() => x.StreamAnswerAsync("ok")));
        var (services, manager) = RemoteManagers.Create($$"""{ "models": [ {{RemoteManagers.Remote("remote", server.V1, "raw", "\"max_idle_time\": 600")}} ] }""", logs);
        await using var _ = services;

        await manager.GetModel("remote").GenerateAsync(Prompt);
        Assert.True(await manager.UnloadModelAsync("remote"));
        var disposedAfterUnload = logs.Count(4008);
        await manager.GetModel("remote").GenerateAsync(Prompt);

        Assert.Equal(1, disposedAfterUnload);
        Assert.Equal(2, server.CountOf("GET", "/models")); // each load checks reachability
        Assert.Equal(2, manager.GetModelStats()["remote"].LoadCount);
    }

    [Fact]
    public async Task CancellingACall_StopsTheRemoteGeneration()
    {
        await using var server = await ModelServerHost.StartAsync($$"""{ "max_memory_mb": 64, "models": [ {{RemoteManagers.Fake("slow", tokenDelayMs: 20, maxTokens: 2000)}} ] }""");
        var (services, manager) = RemoteManagers.Create($$"""{ "models": [ {{RemoteManagers.Remote("remote", server.V1.ToString(), "slow")}} ] }""");
        await using var _ = services;
        using var cts = new CancellationTokenSource();
        var pieces = 0;

        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var __ in manager.GetModel("remote").GenerateStreamingAsync(Prompt, new GenerationOptions { MaxTokens = 2000 }, cts.Token))
            {
                if (++pieces == 3)
                {
                    watch.Restart();
                    await cts.CancelAsync();
                }
            }
        });

        while (server.Manager.GetModelStats()["slow"].ActiveLeases > 0 && watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20);
        }

        Assert.Equal(3, pieces);
        Assert.Equal(0, manager.GetModelStats()["remote"].ActiveLeases);
        Assert.Equal(0, server.Manager.GetModelStats()["slow"].ActiveLeases);
        // 2000 tokens at 20 ms would hold it 40 s: released well before that (half of it: a margin for a busy 2-core machine) is the cancellation's doing.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"the server released its lease {watch.Elapsed} after the cancellation");
    }
}
