using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>The openai backend reports the server's own figures: its <c>usage</c> and <c>finish_reason</c>, or null counts when it sends no usage.</summary>
public sealed class OpenAIUsageTests
{
    private const string Usage = """{"prompt_tokens":11,"completion_tokens":3,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":5}}""";

    [Fact]
    public async Task Outcome_IsTheServersUsageAndFinishReason_ForGenerateChatAndStreaming()
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(() => AnswerAsync(x, "length", Usage)));
        var (result, response, updates) = await CallThreeWaysAsync(server);

        Assert.Equal("abc", result.Text);
        Assert.Equal(new GenerationOutcome(GenerationFinishReason.MaxTokens, 11, 3, 5), result.Outcome);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(11, response.Usage!.InputTokenCount);
        Assert.Equal(3, response.Usage.OutputTokenCount);
        Assert.Equal(14, response.Usage.TotalTokenCount);
        Assert.Equal(5, response.Usage.CachedInputTokenCount);
        var usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>());
        Assert.Equal(11, usage.Details.InputTokenCount);
        Assert.Equal(3, usage.Details.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, updates.Single(u => u.FinishReason is not null).FinishReason);
        Assert.Equal("abc", string.Concat(updates.Select(u => u.Text)));

        // The backend always streams, so it asks the server for the usage chunk.
        Assert.All(server.Received.Where(r => r.IsChat), r =>
        {
            using var body = JsonDocument.Parse(r.Body);
            Assert.True(body.RootElement.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        });
    }

    [Fact]
    public async Task Outcome_WithoutUsageFromTheServer_HasNullCounts_NotZeros()
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(() => AnswerAsync(x, "stop", usage: null)));
        var (result, response, updates) = await CallThreeWaysAsync(server);

        Assert.Equal(GenerationFinishReason.EndOfSequence, result.Outcome.FinishReason);
        Assert.Null(result.Outcome.PromptTokens);
        Assert.Null(result.Outcome.GeneratedTokens);
        Assert.Null(result.Outcome.TotalTokens);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Null(response.Usage?.InputTokenCount);
        Assert.Null(response.Usage?.OutputTokenCount);
        Assert.Null(response.Usage?.TotalTokenCount);
        Assert.Null(updates.SelectMany(u => u.Contents).OfType<UsageContent>().SingleOrDefault()?.Details.InputTokenCount);
        Assert.Equal(ChatFinishReason.Stop, updates.Single(u => u.FinishReason is not null).FinishReason);
    }

    [Fact]
    public async Task Outcome_WithUsageButNoCachedTokens_CountsZeroCached()
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(() => AnswerAsync(x, "stop", """{"prompt_tokens":7,"completion_tokens":2,"total_tokens":9}""")));
        var (services, manager) = RemoteManagers.Create($$"""{ "max_memory_mb": 64, "models": [ {{RemoteManagers.Remote("remote", server.V1, "m")}} ] }""");
        await using var _ = services;

        var result = await manager.GetModel("remote").GenerateResultAsync("Hello");

        Assert.Equal(new GenerationOutcome(GenerationFinishReason.EndOfSequence, 7, 2, 0), result.Outcome);
    }

    [Fact]
    public async Task Outcome_CutByALocalStopSequence_IsStopSequence()
    {
        // Five stop sequences: the server is told four, the fifth is applied here.
        await using var server = new RawHttpServer(x => x.IsChatOr(() => AnswerAsync(x, "stop", Usage)));
        var (services, manager) = RemoteManagers.Create($$"""
            { "max_memory_mb": 64, "models": [ { "name": "remote", "type": "openai", "path": "{{server.V1}}", "parameters": { "stop": ["v", "w", "x", "y", "b"] } } ] }
            """);
        await using var _ = services;

        var result = await manager.GetModel("remote").GenerateResultAsync("Hello");

        Assert.Equal("a", result.Text);
        Assert.Equal(GenerationFinishReason.StopSequence, result.Outcome.FinishReason);
        Assert.Equal(ChatFinishReason.Stop, (await manager.GetModel("remote").AsChatClient().GetResponseAsync("Hello")).FinishReason);
    }

    [Theory]
    [InlineData("path")]
    [InlineData("endpoint")]
    [InlineData("endpoints")]
    public async Task Metadata_ProviderUri_IsTheEndpoint(string key)
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(() => AnswerAsync(x, "stop", Usage)));
        var value = key == "endpoints" ? $"[\"{server.V1}\", \"http://127.0.0.1:9/v1\"]" : $"\"{server.V1}\"";
        var (services, manager) = RemoteManagers.Create($$"""
            { "max_memory_mb": 64, "models": [ { "name": "remote", "type": "openai", "{{key}}": {{value}} }, {{RemoteManagers.Fake("local")}} ] }
            """);
        await using var _ = services;

        var metadata = manager.GetModel("remote").AsChatClient().GetService<ChatClientMetadata>();
        var local = manager.GetModel("local").AsChatClient().GetService<ChatClientMetadata>();

        Assert.NotNull(metadata);
        Assert.Equal(new Uri(server.V1), metadata.ProviderUri);
        Assert.Equal("remote", metadata.DefaultModelId);
        Assert.False(string.IsNullOrEmpty(metadata.ProviderName));
        Assert.Null(local!.ProviderUri);
    }

    /// <summary>The same request as a raw generation, a chat response and a chat stream, on a manager over <paramref name="server"/>.</summary>
    private static async Task<(GenerationResult Result, ChatResponse Response, List<ChatResponseUpdate> Updates)> CallThreeWaysAsync(RawHttpServer server)
    {
        var (services, manager) = RemoteManagers.Create($$"""{ "max_memory_mb": 64, "models": [ {{RemoteManagers.Remote("remote", server.V1, "m")}} ] }""");
        await using var _ = services;
        var model = manager.GetModel("remote");
        var result = await model.GenerateResultAsync("Hello");
        var response = await model.AsChatClient().GetResponseAsync("Hello");
        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in model.AsChatClient().GetStreamingResponseAsync("Hello"))
        {
            updates.Add(update);
        }

        return (result, response, updates);
    }

    private static async Task AnswerAsync(RawExchange x, string finishReason, string? usage)
    {
        await x.BeginAnswerAsync("a", "b", "c");
        await x.SendEventAsync(RawExchange.ChatChunk("", finishReason));
        if (usage is not null)
        {
            await x.SendEventAsync($$"""{"id":"chatcmpl-raw","object":"chat.completion.chunk","created":1,"model":"raw","choices":[],"usage":{{usage}}}""");
        }

        await x.SendEventAsync("[DONE]");
        await x.EndStreamAsync();
    }
}
