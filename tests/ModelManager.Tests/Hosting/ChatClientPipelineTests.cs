using System.Diagnostics;
using Microsoft.Extensions.AI;

namespace ModelManager.Tests;

public sealed class ChatClientPipelineTests
{
    private const string Json = """
        { "max_memory_mb": 100,
          "models": [ { "name": "a", "type": "fake", "parameters": { "size_mb": 1 } }, { "name": "b", "type": "fake", "parameters": { "size_mb": 1 } } ],
          "agents": { "Writer": { "model": "a" } } }
        """;

    [Fact]
    public async Task ConfigureChatClients_WrapsEveryKeyedClient_WithItsKey_InOrder()
    {
        var seen = new List<string>();
        var services = new ServiceCollection();
        services.AddModelManager(o => ModelConfigurationLoader.LoadJson(System.Text.Encoding.UTF8.GetBytes(Json), "test.json", o))
            .AddFakeBackend()
            .ConfigureChatClients((key, chat) => chat.Use(Recording(seen, $"first:{key}")))
            .ConfigureChatClients((key, chat) => chat.Use(Recording(seen, $"second:{key}")));
        await using var sp = services.BuildServiceProvider();

        var writer = sp.GetRequiredKeyedService<IChatClient>("Writer");
        var model = sp.GetRequiredKeyedService<IChatClient>("b");
        var response = await writer.GetResponseAsync("hi", new ChatOptions { MaxOutputTokens = 2 });
        await model.GetResponseAsync("hi", new ChatOptions { MaxOutputTokens = 2 });

        Assert.Equal(["first:Writer", "second:Writer", "first:b", "second:b"], seen);
        Assert.Equal("a", response.ModelId);
        Assert.Equal("a", writer.GetService<ChatClientMetadata>()!.DefaultModelId);
        Assert.Equal("a", writer.GetService<ModelDescriptor>()!.Name);
        Assert.Same(writer, sp.GetRequiredKeyedService<IChatClient>("Writer"));
    }

    [Fact]
    public async Task UseOpenTelemetry_RecordsTheTokenUsageOfEveryAgent()
    {
        var activities = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name == "modelmanager-test-ai",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = a => { lock (activities) { activities.Add(a); } },
        };
        ActivitySource.AddActivityListener(listener);
        var services = new ServiceCollection();
        services.AddModelManager(o => ModelConfigurationLoader.LoadJson(System.Text.Encoding.UTF8.GetBytes(Json), "test.json", o))
            .AddFakeBackend()
            .ConfigureChatClients((_, chat) => chat.UseOpenTelemetry(sourceName: "modelmanager-test-ai"));
        await using var sp = services.BuildServiceProvider();

        await sp.GetRequiredKeyedService<IChatClient>("Writer").GetResponseAsync("one two three", new ChatOptions { MaxOutputTokens = 4 });
        await foreach (var _ in sp.GetRequiredKeyedService<IChatClient>("b").GetStreamingResponseAsync("one two", new ChatOptions { MaxOutputTokens = 3 }))
        {
        }

        lock (activities)
        {
            Assert.Equal(2, activities.Count);
            Assert.Equal([4, 3], activities.Select(a => Convert.ToInt32(a.GetTagItem("gen_ai.usage.output_tokens"), System.Globalization.CultureInfo.InvariantCulture)));
            Assert.All(activities, a => Assert.True(Convert.ToInt32(a.GetTagItem("gen_ai.usage.input_tokens"), System.Globalization.CultureInfo.InvariantCulture) > 0));
            Assert.Equal(["a", "b"], activities.Select(a => (string?)a.GetTagItem("gen_ai.response.model")));
            Assert.All(activities, a => Assert.Equal("modelmanager", a.GetTagItem("gen_ai.provider.name") ?? a.GetTagItem("gen_ai.system")));
        }
    }

    private static Func<IChatClient, IChatClient> Recording(List<string> seen, string label) =>
        inner => new RecordingClient(inner, seen, label);

    private sealed class RecordingClient(IChatClient inner, List<string> seen, string label) : DelegatingChatClient(inner)
    {
        public override Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            seen.Add(label);
            return base.GetResponseAsync(messages, options, cancellationToken);
        }
    }
}
