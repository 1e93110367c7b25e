using Microsoft.Extensions.AI;

namespace ModelManager.Tests;

/// <summary>The keyed chat client behaves as Microsoft.Extensions.AI's own clients do: usage, finish reasons, ids, metadata.</summary>
public sealed class ModelChatClientTests
{
    private static readonly ChatMessage[] Hello = [new(ChatRole.System, "be brief"), new(ChatRole.User, "hello there")];

    // The fake's rendered prompt is "system: be brief\nuser: hello there\nassistant:": 7 words, 7 tokens.
    private const int HelloPromptTokens = 7;

    [Fact]
    public async Task GetResponse_MaxTokens_ReportsLengthAndTheTokensItTook()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)));
        var chat = m.GetModel("a").AsChatClient();

        var response = await chat.GetResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 7 });

        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(HelloPromptTokens, response.Usage!.InputTokenCount);
        Assert.Equal(7, response.Usage.OutputTokenCount);
        Assert.Equal(HelloPromptTokens + 7, response.Usage.TotalTokenCount);
        Assert.Equal(0, response.Usage.CachedInputTokenCount);
        Assert.Equal("a", response.ModelId);
        Assert.False(string.IsNullOrEmpty(response.ResponseId));
        Assert.Equal(response.ResponseId, Assert.Single(response.Messages).MessageId);
        Assert.Equal(ChatRole.Assistant, response.Messages[0].Role);
    }

    [Fact]
    public async Task GetResponse_EndOfSequenceOrStopSequence_ReportsStop()
    {
        var (m, _) = FromJson(Config(100, Fake("eos", 1, parameters: "\"eos_after\": 3"), Fake("b", 1)));
        var eos = await m.GetModel("eos").AsChatClient().GetResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 10 });
        var full = (await m.GetModel("b").AsChatClient().GetResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 10 })).Text;
        var stop = " " + full.Split(' ', StringSplitOptions.RemoveEmptyEntries)[2];

        var stopped = await m.GetModel("b").AsChatClient().GetResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 10, StopSequences = [stop] });

        Assert.Equal(ChatFinishReason.Stop, eos.FinishReason);
        Assert.Equal(3, eos.Usage!.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(3, stopped.Usage!.OutputTokenCount); // the third token completed the stop sequence
        Assert.Equal(full[..full.IndexOf(stop, StringComparison.Ordinal)], stopped.Text);
    }

    [Fact]
    public async Task GetStreamingResponse_CarriesExactlyOneUsageContent_OnTheLastUpdate_WithConsistentIds()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)));
        var chat = m.GetModel("a").AsChatClient();
        var whole = await chat.GetResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 5 });

        var updates = await chat.GetStreamingResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 5 }).ToListAsync();

        var usage = updates.SelectMany(u => u.Contents).OfType<UsageContent>().ToList();
        Assert.Single(usage);
        Assert.Contains(usage[0], updates[^1].Contents);
        Assert.Equal(whole.Usage!.InputTokenCount, usage[0].Details.InputTokenCount);
        Assert.Equal(whole.Usage.OutputTokenCount, usage[0].Details.OutputTokenCount);
        Assert.Equal(ChatFinishReason.Length, updates[^1].FinishReason);
        Assert.All(updates[..^1], u => Assert.Null(u.FinishReason));
        Assert.Single(updates.Select(u => u.ResponseId).Distinct());
        Assert.Single(updates.Select(u => u.MessageId).Distinct());
        Assert.All(updates, u => Assert.Equal("a", u.ModelId));
        Assert.Equal(whole.Text, string.Concat(updates.Select(u => u.Text)));

        var combined = updates.ToChatResponse();
        Assert.Equal(whole.Text, combined.Text);
        Assert.Equal(whole.Usage.TotalTokenCount, combined.Usage!.TotalTokenCount);
        Assert.Equal(ChatFinishReason.Length, combined.FinishReason);
    }

    [Fact]
    public async Task Fallback_ModelIdNamesTheModelThatServed()
    {
        var (m, _) = FromJson(Config(100, Fake("broken", 1, parameters: "\"fail_load\": true", extra: "\"fallbacks\": [\"spare\"]"), Fake("spare", 1)));
        var chat = m.GetModel("broken").AsChatClient();

        var response = await chat.GetResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 3 });
        var updates = await chat.GetStreamingResponseAsync(Hello, new ChatOptions { MaxOutputTokens = 3 }).ToListAsync();
        var result = await m.GetModel("broken").GenerateResultAsync("a prompt", new GenerationOptions { MaxTokens = 3 });

        Assert.Equal("spare", response.ModelId);
        Assert.All(updates, u => Assert.Equal("spare", u.ModelId));
        Assert.Equal("spare", result.ModelName);
        Assert.Equal(FakeModelInstance.Expected("spare", "a prompt", 3), result.Text);
        Assert.Equal(new GenerationOutcome(GenerationFinishReason.MaxTokens, 2, 3), result.Outcome);
    }

    [Fact]
    public void Metadata_NamesTheProviderAndTheModelTheKeyMapsTo_NotTheAgent()
    {
        var json = """
            { "max_memory_mb": 100, "default_model": "b",
              "models": [ { "name": "a", "type": "fake" }, { "name": "b", "type": "fake" } ],
              "agents": { "Writer": { "model": "a" } } }
            """;
        var (m, _) = FromJson(json);

        var writer = m.GetAgentModel("Writer").AsChatClient().GetService<ChatClientMetadata>()!;
        var unknown = m.GetAgentModel("Somebody").AsChatClient().GetService<ChatClientMetadata>()!;

        Assert.Equal("modelmanager", writer.ProviderName);
        Assert.Equal("a", writer.DefaultModelId);
        Assert.Null(writer.ProviderUri);
        Assert.Equal("b", unknown.DefaultModelId);
    }

    [Fact]
    public async Task GenerateUpdates_EndsWithOneOutcome_AndEveryUpdateNamesTheModel()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)));

        var updates = await m.GetModel("a").GenerateUpdatesAsync("one two three", new GenerationOptions { MaxTokens = 4 }).ToListAsync();

        Assert.Single(updates, u => u.IsFinal);
        Assert.True(updates[^1].IsFinal);
        Assert.Equal(new GenerationOutcome(GenerationFinishReason.MaxTokens, 3, 4), updates[^1].Outcome);
        Assert.All(updates, u => Assert.Equal("a", u.ModelName));
        Assert.Equal(FakeModelInstance.Expected("a", "one two three", 4), string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(string.Concat(updates.Select(u => u.Text)), string.Concat(await m.GetModel("a").GenerateStreamingAsync("one two three", new GenerationOptions { MaxTokens = 4 }).ToListAsync()));
    }

    public static TheoryData<string, ChatOptions> UnsupportedOptions => new()
    {
        { "Tools", new ChatOptions { Tools = [new HostedWebSearchTool()] } },
        { "FrequencyPenalty", new ChatOptions { FrequencyPenalty = 0.5f } },
        { "PresencePenalty", new ChatOptions { PresencePenalty = 0.5f } },
        { "ModelId", new ChatOptions { ModelId = "elsewhere" } },
        { "AdditionalProperties[\"logit_bias\"]", new ChatOptions { AdditionalProperties = new() { ["logit_bias"] = 1 } } },
    };

    [Theory]
    [MemberData(nameof(UnsupportedOptions))]
    public async Task AnOptionNoBackendHonours_IsAnError_NamingTheOptionAndTheModel(string option, ChatOptions options)
    {
        var (m, backend) = FromJson(Config(100, Fake("a", 1)));
        var chat = m.GetModel("a").AsChatClient();

        var whole = await Assert.ThrowsAsync<NotSupportedException>(() => chat.GetResponseAsync(Hello, options));
        var streamed = await Assert.ThrowsAsync<NotSupportedException>(async () => await chat.GetStreamingResponseAsync(Hello, options).ToListAsync());

        Assert.StartsWith($"ChatOptions.{option}", whole.Message, StringComparison.Ordinal);
        Assert.Contains("model 'a'", whole.Message, StringComparison.Ordinal);
        Assert.Equal(whole.Message, streamed.Message);
        Assert.Equal(0, backend.Loads); // rejected before anything was loaded
    }

    [Fact]
    public async Task OptionsThatAreHonoured_PassThrough()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)));
        var chat = m.GetModel("a").AsChatClient();
        var options = new ChatOptions
        {
            MaxOutputTokens = 3,
            Instructions = "rhyme",
            ModelId = "a",
            ResponseFormat = ChatResponseFormat.Text,
            ToolMode = ChatToolMode.Auto,
            ConversationId = "c1",
            AdditionalProperties = new() { ["stream_options"] = new Dictionary<string, object> { ["include_usage"] = true } },
        };

        var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, "hi")], options);

        // Instructions lead the conversation as a system message.
        Assert.Equal(FakeModelInstance.Expected("a", "system: rhyme\nuser: hi\nassistant:", 3), response.Text);
        Assert.Equal(5, response.Usage!.InputTokenCount);

        // ConversationId is a cache hint only: the response names no conversation, so FunctionInvokingChatClient keeps sending the whole history.
        Assert.Null(response.ConversationId);
    }

    [Fact]
    public async Task ARequiredToolCall_WithoutThatTool_IsAnArgumentError_NamingIt()
    {
        var (m, backend) = FromJson(Config(100, Fake("a", 1)));
        var chat = m.GetModel("a").AsChatClient();
        var tools = new List<AITool> { AIFunctionFactory.Create(() => 42, "answer") };

        var none = await Assert.ThrowsAsync<ArgumentException>(() => chat.GetResponseAsync(Hello, new ChatOptions { ToolMode = ChatToolMode.RequireAny }));
        var other = await Assert.ThrowsAsync<ArgumentException>(() => chat.GetResponseAsync(Hello, new ChatOptions { Tools = tools, ToolMode = ChatToolMode.RequireSpecific("get_weather") }));

        Assert.Contains("ChatOptions.Tools is empty", none.Message, StringComparison.Ordinal);
        Assert.Contains("'get_weather'", other.Message, StringComparison.Ordinal);
        Assert.Contains("(answer)", other.Message, StringComparison.Ordinal);
        Assert.Equal(0, backend.Loads);
    }

    [Fact]
    public async Task StructuredOutputOrTools_OnABackendThatCannotEnforceThem_IsNotSupported_NamingTheModel()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)));
        var chat = m.GetModel("a").AsChatClient();

        var json = await Assert.ThrowsAsync<NotSupportedException>(() => chat.GetResponseAsync(Hello, new ChatOptions { ResponseFormat = ChatResponseFormat.Json }));
        var tools = await Assert.ThrowsAsync<NotSupportedException>(() => chat.GetResponseAsync(Hello, new ChatOptions { Tools = [AIFunctionFactory.Create(() => 42, "answer")] }));
        var off = await chat.GetResponseAsync(Hello, new ChatOptions { Tools = [AIFunctionFactory.Create(() => 42, "answer")], ToolMode = ChatToolMode.None });

        Assert.Contains("model 'a'", json.Message, StringComparison.Ordinal);
        Assert.Contains("model 'a'", tools.Message, StringComparison.Ordinal);
        Assert.NotEmpty(off.Text); // tools switched off are not offered, so nothing needs enforcing
    }
}
