using System.ComponentModel;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Reflection;
using System.Text;
using System.Text.Json;
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
/// Ported: usage (non-streaming, streaming), append to history, caching (three tests), OpenTelemetry traces, tool schemas
/// accepted (strict and not), and the required tool modes with function invocation. Left out: the tests that check what a
/// model knows (whales, Armstrong, continents, Jimbo Smith's age, the secret number in the answer; stories260K only tells
/// children's stories), multi-modal input, and the summarizing reducer. Adaptations: upstream checks
/// <c>server.address</c>/<c>server.port</c> against the client's <c>ProviderUri</c>; an in-process model has no server,
/// so the test checks that the tags are absent, as its metadata's null <c>ProviderUri</c> says. The model's context is
/// 8,192 tokens (upstream's hosted models have far more): the tool-schema test describes 28 tools in the prompt; and its
/// configured <c>max_tokens</c> is 256, the library's default, so that a required tool call (upstream sets no limit) is not cut.
/// The model runs with <c>flash_attention</c> off and one sequence: the tool-schema prompt is 6,808 tokens, and llama.cpp's
/// CPU flash attention is about 4.5× slower on stories260K's 8-wide heads (this class took 108 s with it, 18 s without).
/// </remarks>
public sealed class ChatClientIntegrationTests : IAsyncLifetime
{
    private const string Agent = "Storyteller";
    private ServiceProvider? _services;

    private IChatClient ChatClient => _services!.GetRequiredKeyedService<IChatClient>(Agent);

    public Task InitializeAsync()
    {
        // Sampling (no seed), so that "output varies without caching" holds, as with the hosted models upstream runs on.
        var model = $$"""{ "name": "stories", "type": "gguf", "path": {{System.Text.Json.JsonSerializer.Serialize(SharedModels.Stories260K)}}, "context_length": 8192, "parallel": 1, "flash_attention": "off", "parameters": { "temperature": 0.9, "max_tokens": 256 } }""";
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

    public record PersonRecord(string Name, int Age = 42);

    [SharedModelFact("stories260K/stories260K.gguf")]
    public Task AvailableTools_SchemasAreAccepted_Strict() =>
        AvailableTools_SchemasAreAccepted(strict: true);

    [SharedModelFact("stories260K/stories260K.gguf")]
    public Task AvailableTools_SchemasAreAccepted_NonStrict() =>
        AvailableTools_SchemasAreAccepted(strict: false);

    private async Task AvailableTools_SchemasAreAccepted(bool strict)
    {
        var sourceName = Guid.NewGuid().ToString();
        var activities = new List<Activity>();
        using var tracerProvider = OpenTelemetry.Sdk.CreateTracerProviderBuilder()
            .AddSource(sourceName)
            .AddInMemoryExporter(activities)
            .Build();

        using var chatClient = new FunctionInvokingChatClient(
            new OpenTelemetryChatClient(ChatClient, sourceName: sourceName));

        int methodCount = 1;
        Func<AIFunctionFactoryOptions> createOptions = () =>
        {
            AIFunctionFactoryOptions aiFuncOptions = new()
            {
                Name = $"Method{methodCount++}",
            };

            if (strict)
            {
                aiFuncOptions.AdditionalProperties = new Dictionary<string, object?> { ["strict"] = true };
            }

            return aiFuncOptions;
        };

        Func<string, AIFunction> createWithSchema = schema =>
        {
            Dictionary<string, object?> additionalProperties = new();

            if (strict)
            {
                additionalProperties["strict"] = true;
            }

            return new CustomAIFunction($"CustomMethod{methodCount++}", schema, additionalProperties);
        };

        ChatOptions options = new()
        {
            MaxOutputTokens = 100,
            Tools =
            [
                // Using AIFunctionFactory
                AIFunctionFactory.Create((int? i) => i, createOptions()),
                AIFunctionFactory.Create((string? s) => s, createOptions()),
                AIFunctionFactory.Create((int? i = null) => i, createOptions()),
                AIFunctionFactory.Create((bool b) => b, createOptions()),
                AIFunctionFactory.Create((double d) => d, createOptions()),
                AIFunctionFactory.Create((decimal d) => d, createOptions()),
                AIFunctionFactory.Create((float f) => f, createOptions()),
                AIFunctionFactory.Create((long l) => l, createOptions()),
                AIFunctionFactory.Create((char c) => c, createOptions()),
                AIFunctionFactory.Create((DateTime dt) => dt, createOptions()),
                AIFunctionFactory.Create((DateTimeOffset? dt) => dt, createOptions()),
                AIFunctionFactory.Create((TimeSpan ts) => ts, createOptions()),
                AIFunctionFactory.Create((DateOnly d) => d, createOptions()),
                AIFunctionFactory.Create((TimeOnly t) => t, createOptions()),
                AIFunctionFactory.Create((Uri uri) => uri, createOptions()),
                AIFunctionFactory.Create((Guid guid) => guid, createOptions()),
                AIFunctionFactory.Create((List<int> list) => list, createOptions()),
                AIFunctionFactory.Create((int[] arr, ComplexObject? co) => arr, createOptions()),
                AIFunctionFactory.Create((string p1 = "str", int p2 = 42, BindingFlags p3 = BindingFlags.IgnoreCase, char p4 = 'x') => p1, createOptions()),
                AIFunctionFactory.Create((string? p1 = "str", int? p2 = 42, BindingFlags? p3 = BindingFlags.IgnoreCase, char? p4 = 'x') => p1, createOptions()),

                // Selection from @modelcontextprotocol/server-everything
                createWithSchema("""
                    {"type":"object","properties":{},"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}
                    """),
                createWithSchema("""
                    {"type":"object","properties":{"duration":{"type":"number","default":10,"description":"Duration of the operation in seconds"},"steps":{"type":"number","default":5,"description":"Number of steps in the operation"}},"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}
                    """),
                createWithSchema("""
                    {"type":"object","properties":{"prompt":{"type":"string","description":"The prompt to send to the LLM"},"maxTokens":{"type":"number","default":100,"description":"Maximum number of tokens to generate"}},"required":["prompt"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}
                    """),
                createWithSchema("""
                    {"type":"object","properties":{},"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}
                    """),
                createWithSchema("""
                    {"type":"object","properties":{"messageType":{"type":"string","enum":["error","success","debug"],"description":"Type of message to demonstrate different annotation patterns"},"includeImage":{"type":"boolean","default":false,"description":"Whether to include an example image"}},"required":["messageType"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}
                    """),
                createWithSchema("""
                    {"type":"object","properties":{"resourceId":{"type":"number","minimum":1,"maximum":100,"description":"ID of the resource to reference (1-100)"}},"required":["resourceId"],"additionalProperties":false,"$schema":"http://json-schema.org/draft-07/schema#"}
                    """),

                // Selection from GH MCP server
                createWithSchema("""
                    {"properties":{"body":{"description":"The text of the review comment","type":"string"},"line":{"description":"The line of the blob in the pull request diff that the comment applies to. For multi-line comments, the last line of the range","type":"number"},"owner":{"description":"Repository owner","type":"string"},"path":{"description":"The relative path to the file that necessitates a comment","type":"string"},"pullNumber":{"description":"Pull request number","type":"number"},"repo":{"description":"Repository name","type":"string"},"side":{"description":"The side of the diff to comment on. LEFT indicates the previous state, RIGHT indicates the new state","enum":["LEFT","RIGHT"],"type":"string"},"startLine":{"description":"For multi-line comments, the first line of the range that the comment applies to","type":"number"},"startSide":{"description":"For multi-line comments, the starting side of the diff that the comment applies to. LEFT indicates the previous state, RIGHT indicates the new state","enum":["LEFT","RIGHT"],"type":"string"},"subjectType":{"description":"The level at which the comment is targeted","enum":["FILE","LINE"],"type":"string"}},"required":["owner","repo","pullNumber","path","body","subjectType"],"type":"object"}
                    """),
                createWithSchema("""
                    {"properties":{"commit_message":{"description":"Extra detail for merge commit","type":"string"},"commit_title":{"description":"Title for merge commit","type":"string"},"merge_method":{"description":"Merge method","enum":["merge","squash","rebase"],"type":"string"},"owner":{"description":"Repository owner","type":"string"},"pullNumber":{"description":"Pull request number","type":"number"},"repo":{"description":"Repository name","type":"string"}},"required":["owner","repo","pullNumber"],"type":"object"}
                    """),

                createWithSchema("""
                    {"type":"object","properties":{"labels":{"type":"object"}},"additionalProperties":{"type":"string"}}
                    """),
            ],
        };

        // We don't care about the response, only that we get one and that an exception isn't thrown due to unacceptable schema.
        var response = await chatClient.GetResponseAsync("Briefly, what is the most popular tower in Paris?", options);
        Assert.NotNull(response);
    }

    private sealed class CustomAIFunction(string name, string jsonSchema, IReadOnlyDictionary<string, object?> additionalProperties) : AIFunction
    {
        public override string Name => name;
        public override IReadOnlyDictionary<string, object?> AdditionalProperties => additionalProperties;
        public override JsonElement JsonSchema { get; } = JsonElement.Parse(jsonSchema);
        protected override ValueTask<object?> InvokeCoreAsync(AIFunctionArguments arguments, CancellationToken cancellationToken) => throw new NotSupportedException();
    }

    private sealed class ComplexObject
    {
        [DisplayName("Something cool")]
        [DeniedValues("abc", "def", "default")]
        public string? SomeString { get; set; }

        [AllowedValues("abc", "def", "default")]
        public string AnotherString { get; set; } = "default";

        [Range(25, 75)]
        public int Value { get; set; }

        [EmailAddress]
        public string? Email { get; set; }

        [RegularExpression("[abc]")]
        public string? RegexString { get; set; }

        [StringLength(42)]
        public string MeasuredString { get; set; } = "default";

        [Length(1, 2)]
        public int[]? MeasuredArray1 { get; set; }

        [MinLength(1)]
        public int[]? MeasuredArray2 { get; set; }

        [MaxLength(10)]
        public int[]? MeasuredArray3 { get; set; }
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task FunctionInvocation_RequireAny()
    {
        int callCount = 0;
        var tool = AIFunctionFactory.Create(() =>
        {
            callCount++;
            return 123;
        }, "GetSecretNumber");

        using var chatClient = new FunctionInvokingChatClient(ChatClient);

        var response = await chatClient.GetResponseAsync("Are birds real?", new()
        {
            Tools = [tool],
            ToolMode = ChatToolMode.RequireAny,
        });

        Assert.True(callCount >= 1);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task FunctionInvocation_RequireSpecific()
    {
        bool shieldsUp = false;
        var getSecretNumberTool = AIFunctionFactory.Create(() => 123, "GetSecretNumber");
        var shieldsUpTool = AIFunctionFactory.Create(() => shieldsUp = true, "ShieldsUp");

        using var chatClient = new FunctionInvokingChatClient(ChatClient);

        // Even though the user doesn't ask for the shields to be activated, verify that the tool is invoked
        var response = await chatClient.GetResponseAsync("What's the current secret number?", new()
        {
            Tools = [getSecretNumberTool, shieldsUpTool],
            ToolMode = ChatToolMode.RequireSpecific(shieldsUpTool.Name),
        });

        Assert.True(shieldsUp);
    }
}
