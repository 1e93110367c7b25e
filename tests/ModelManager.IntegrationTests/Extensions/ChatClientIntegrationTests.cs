using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace ModelManager.IntegrationTests;

/// <summary>
/// The structural tests of dotnet/extensions' <c>Microsoft.Extensions.AI.Integration.Tests/ChatClientIntegrationTests.cs</c>,
/// ported to the keyed <see cref="IChatClient"/> of an agent on stories260K, with their assertions.
/// </summary>
/// <remarks>
/// Ported: usage (non-streaming, streaming), append to history, caching (three tests), OpenTelemetry traces. Left out: the
/// tests that check what a model knows (whales, Armstrong, continents; stories260K only tells children's stories),
/// multi-modal input, and the function-calling, tool-schema and structured-output tests, which need tool calls and
/// constrained decoding (issue 12). One adaptation: upstream checks <c>server.address</c>/<c>server.port</c> against the
/// client's <c>ProviderUri</c>; an in-process model has no server, so the test checks that the tags are absent, as its
/// metadata's null <c>ProviderUri</c> says.
/// </remarks>
public sealed class ChatClientIntegrationTests : IAsyncLifetime
{
    private const string Agent = "Storyteller";
    private ServiceProvider? _services;

    private IChatClient ChatClient => _services!.GetRequiredKeyedService<IChatClient>(Agent);

    public Task InitializeAsync()
    {
        // Sampling (no seed), so that "output varies without caching" holds, as with the hosted models upstream runs on.
        var model = $$"""{ "name": "stories", "type": "gguf", "path": {{System.Text.Json.JsonSerializer.Serialize(SharedModels.Stories260K)}}, "context_length": 256, "parallel": 4, "parameters": { "temperature": 0.9, "max_tokens": 48 } }""";
        var path = Path.Combine(TestCache.NewScratchDirectory(), "config.json");
        File.WriteAllText(path, $$"""{ "max_memory_mb": 512, "models": [ {{model}} ], "agents": { "{{Agent}}": { "model": "stories" } } }""");
        var services = new ServiceCollection();
        services.AddModelManager(path).AddLlamaSharp();
        _services = services.BuildServiceProvider();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task GetResponseAsync_UsageDataAvailable()
    {
        var response = await ChatClient.GetResponseAsync("Explain in 10 words how AI works");

        Assert.True(response.Usage?.InputTokenCount > 1);
        Assert.True(response.Usage?.OutputTokenCount > 1);
        Assert.Equal(response.Usage?.InputTokenCount + response.Usage?.OutputTokenCount, response.Usage?.TotalTokenCount);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task GetStreamingResponseAsync_UsageDataAvailable()
    {
        var response = ChatClient.GetStreamingResponseAsync("Explain in 10 words how AI works", new()
        {
            AdditionalProperties = new()
            {
                ["stream_options"] = new Dictionary<string, object> { ["include_usage"] = true, },
            },
        });

        List<ChatResponseUpdate> chunks = [];
        await foreach (var chunk in response)
        {
            chunks.Add(chunk);
        }

        Assert.True(chunks.Count > 1);

        UsageContent usage = chunks.SelectMany(c => c.Contents).OfType<UsageContent>().Single();
        Assert.True(usage.Details.InputTokenCount > 1);
        Assert.True(usage.Details.OutputTokenCount > 1);
        Assert.Equal(usage.Details.InputTokenCount + usage.Details.OutputTokenCount, usage.Details.TotalTokenCount);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task GetStreamingResponseAsync_AppendToHistory()
    {
        List<ChatMessage> history = [new(ChatRole.User, "Explain in 100 words how AI works")];

        var streamingResponse = ChatClient.GetStreamingResponseAsync(history);

        Assert.Single(history);
        await history.AddMessagesAsync(streamingResponse);
        Assert.Equal(2, history.Count);
        Assert.Equal(ChatRole.Assistant, history[1].Role);

        var singleTextContent = (TextContent)history[1].Contents.Single();
        Assert.NotEmpty(singleTextContent.Text);
        Assert.Equal(history[1].Text, singleTextContent.Text);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Caching_OutputVariesWithoutCaching()
    {
        var message = new ChatMessage(ChatRole.User, "Pick a random number, uniformly distributed between 1 and 1000000");
        var firstResponse = await ChatClient.GetResponseAsync([message]);

        var secondResponse = await ChatClient.GetResponseAsync([message]);
        Assert.NotEqual(firstResponse.Text, secondResponse.Text);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Caching_SamePromptResultsInCacheHit_NonStreaming()
    {
        using var chatClient = new DistributedCachingChatClient(
            ChatClient,
            new MemoryDistributedCache(Microsoft.Extensions.Options.Options.Create(new MemoryDistributedCacheOptions())));

        var message = new ChatMessage(ChatRole.User, "Pick a random number, uniformly distributed between 1 and 1000000");
        var firstResponse = await chatClient.GetResponseAsync([message]);

        // No matter what it said before, we should see identical output due to caching
        for (int i = 0; i < 3; i++)
        {
            var secondResponse = await chatClient.GetResponseAsync([message]);
            Assert.Equal(firstResponse.Messages.Select(m => m.Text), secondResponse.Messages.Select(m => m.Text));
        }

        // ... but if the conversation differs, we should see different output
        ((TextContent)message.Contents[0]).Text += "!";
        var thirdResponse = await chatClient.GetResponseAsync([message]);
        Assert.NotEqual(firstResponse.Messages, thirdResponse.Messages);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Caching_SamePromptResultsInCacheHit_Streaming()
    {
        using var chatClient = new DistributedCachingChatClient(
            ChatClient,
            new MemoryDistributedCache(Microsoft.Extensions.Options.Options.Create(new MemoryDistributedCacheOptions())));

        var message = new ChatMessage(ChatRole.User, "Pick a random number, uniformly distributed between 1 and 1000000");
        StringBuilder orig = new();
        await foreach (var update in chatClient.GetStreamingResponseAsync([message]))
        {
            orig.Append(update.Text);
        }

        // No matter what it said before, we should see identical output due to caching
        for (int i = 0; i < 3; i++)
        {
            StringBuilder second = new();
            await foreach (var update in chatClient.GetStreamingResponseAsync([message]))
            {
                second.Append(update.Text);
            }

            Assert.Equal(orig.ToString(), second.ToString());
        }

        // ... but if the conversation differs, we should see different output
        ((TextContent)message.Contents[0]).Text += "!";
        StringBuilder third = new();
        await foreach (var update in chatClient.GetStreamingResponseAsync([message]))
        {
            third.Append(update.Text);
        }

        Assert.NotEqual(orig.ToString(), third.ToString());
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task OpenTelemetry_CanEmitTracesAndMetrics()
    {
        var sourceName = Guid.NewGuid().ToString();
        var activities = new List<Activity>();
        using var tracerProvider = OpenTelemetry.Sdk.CreateTracerProviderBuilder()
            .AddSource(sourceName)
            .AddInMemoryExporter(activities)
            .Build();

        var chatClient = ChatClient.AsBuilder()
            .UseOpenTelemetry(sourceName: sourceName)
            .Build();

        var response = await chatClient.GetResponseAsync([new(ChatRole.User, "What's the biggest animal?")]);

        var activity = Assert.Single(activities);
        Assert.StartsWith("chat", activity.DisplayName);
        Assert.Null(chatClient.GetService<ChatClientMetadata>()?.ProviderUri); // in process: no server, so no server.* tags
        Assert.Null(activity.GetTagItem("server.address"));
        Assert.Null(activity.GetTagItem("server.port"));
        Assert.NotNull(activity.Id);
        Assert.NotEmpty(activity.Id);
        Assert.NotEqual(0, (int)activity.GetTagItem("gen_ai.usage.input_tokens")!);
        Assert.NotEqual(0, (int)activity.GetTagItem("gen_ai.usage.output_tokens")!);

        Assert.True(activity.Duration.TotalMilliseconds > 0);
    }
}
