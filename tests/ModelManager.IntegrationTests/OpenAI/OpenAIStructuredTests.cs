using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>The <c>openai</c> backend passes response formats, tools and tool modes to the server, and brings streamed tool calls back.</summary>
public sealed class OpenAIStructuredTests
{
    private const string CallId = "call_w42";

    private static readonly JsonElement WeatherParameters = JsonDocument.Parse(
        """{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}""").RootElement.Clone();

    private static readonly AIFunctionDeclaration Weather = AIFunctionFactory.CreateDeclaration("get_weather", "The weather in a city.", WeatherParameters);

    [Fact]
    public async Task ResponseFormatJson_IsSentAsJsonObject()
    {
        var body = await SendAsync(new ChatOptions { ResponseFormat = ChatResponseFormat.Json });

        var format = body.GetProperty("response_format");
        Assert.Equal("json_object", format.GetProperty("type").GetString());
        Assert.False(format.TryGetProperty("json_schema", out _));
    }

    [Fact]
    public async Task ResponseFormatForJsonSchema_IsSentAsStrictJsonSchema_WithTheSchema()
    {
        var schema = JsonDocument.Parse("""{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name","age"],"additionalProperties":false}""").RootElement;

        var body = await SendAsync(new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "person", "A person."), Tools = [Weather] });

        var format = body.GetProperty("response_format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        var jsonSchema = format.GetProperty("json_schema");
        Assert.Equal("person", jsonSchema.GetProperty("name").GetString());
        Assert.True(jsonSchema.GetProperty("strict").GetBoolean());
        var sent = jsonSchema.GetProperty("schema");
        Assert.Equal("object", sent.GetProperty("type").GetString());
        Assert.Equal("integer", sent.GetProperty("properties").GetProperty("age").GetProperty("type").GetString());
        Assert.Equal(["name", "age"], sent.GetProperty("required").EnumerateArray().Select(e => e.GetString()!));
        var tool = Assert.Single(body.GetProperty("tools").EnumerateArray()).GetProperty("function");
        Assert.False(tool.TryGetProperty("strict", out var strict) && strict.GetBoolean(), "strict is for the response schema, not the tools");
    }

    [Fact]
    public async Task AJsonAnswerWithoutItsOwnLimit_SendsNoMaxTokens_ButTextAndAnExplicitLimitDo()
    {
        var json = await SendAsync(new ChatOptions { ResponseFormat = ChatResponseFormat.Json });
        var limited = await SendAsync(new ChatOptions { ResponseFormat = ChatResponseFormat.Json, MaxOutputTokens = 9 });
        var text = await SendAsync(new ChatOptions());

        // A constrained value ends when complete; the configured max_tokens (40, RemoteManagers.Remote) would cut it.
        Assert.False(json.TryGetProperty("max_completion_tokens", out _));
        Assert.Equal(9, limited.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal(40, text.GetProperty("max_completion_tokens").GetInt32());
    }

    [Fact]
    public async Task ResponseFormatText_SendsNoResponseFormatOrText()
    {
        var body = await SendAsync(new ChatOptions { ResponseFormat = ChatResponseFormat.Text });

        Assert.True(!body.TryGetProperty("response_format", out var format) || format.GetProperty("type").GetString() == "text");
    }

    [Fact]
    public async Task Tools_AreSentWithTheirParameterSchema()
    {
        var body = await SendAsync(new ChatOptions { Tools = [Weather] });

        var tool = Assert.Single(body.GetProperty("tools").EnumerateArray());
        Assert.Equal("function", tool.GetProperty("type").GetString());
        var function = tool.GetProperty("function");
        Assert.Equal("get_weather", function.GetProperty("name").GetString());
        Assert.Equal("The weather in a city.", function.GetProperty("description").GetString());
        var parameters = function.GetProperty("parameters");
        Assert.Equal("string", parameters.GetProperty("properties").GetProperty("city").GetProperty("type").GetString());
        Assert.Equal(["city"], parameters.GetProperty("required").EnumerateArray().Select(e => e.GetString()!));
    }

    [Theory]
    [InlineData("auto", "\"auto\"")]
    [InlineData("none", "\"none\"")]
    [InlineData("any", "\"required\"")]
    [InlineData("specific", """{"type":"function","function":{"name":"get_weather"}}""")]
    public async Task ToolMode_IsSentAsToolChoice(string mode, string expected)
    {
        ChatToolMode toolMode = mode switch
        {
            "auto" => ChatToolMode.Auto,
            "none" => ChatToolMode.None,
            "any" => ChatToolMode.RequireAny,
            _ => ChatToolMode.RequireSpecific("get_weather"),
        };

        var body = await SendAsync(new ChatOptions { Tools = [Weather], ToolMode = toolMode });

        using var want = JsonDocument.Parse(expected);
        Assert.True(JsonElement.DeepEquals(want.RootElement, body.GetProperty("tool_choice")), $"tool_choice was {body.GetProperty("tool_choice").GetRawText()}");
    }

    [Fact]
    public async Task StreamedToolCall_ComesBackAsOneFunctionCall_WithFinishReasonToolCalls()
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(() => StreamToolCallAsync(x, "Paris")));
        var (services, manager) = RemoteManagers.Create($$"""{ "models": [ {{RemoteManagers.Remote("remote", server.V1, extra: "\"check_on_load\": false")}} ] }""");
        await using var _ = services;
        var chat = manager.GetModel("remote").AsChatClient();

        var response = await chat.GetResponseAsync("Weather in Paris?", new ChatOptions { Tools = [Weather] });

        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal(CallId, call.CallId);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", call.Arguments!["city"]?.ToString());
        Assert.Single(call.Arguments);
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.Equal("", response.Text);
    }

    [Fact]
    public async Task StreamedToolCall_Streaming_YieldsOneFunctionCall_ThenFinishReasonToolCalls()
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(() => StreamToolCallAsync(x, "Oslo")));
        var (services, manager) = RemoteManagers.Create($$"""{ "models": [ {{RemoteManagers.Remote("remote", server.V1, extra: "\"check_on_load\": false")}} ] }""");
        await using var _ = services;
        var chat = manager.GetModel("remote").AsChatClient();

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync("Weather in Oslo?", new ChatOptions { Tools = [Weather] }))
        {
            updates.Add(update);
        }

        var call = Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>());
        Assert.Equal(CallId, call.CallId);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Oslo", call.Arguments!["city"]?.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, updates.Last(u => u.FinishReason is not null).FinishReason);
        Assert.True(updates.FindIndex(u => u.Contents.OfType<FunctionCallContent>().Any()) < updates.FindIndex(u => u.FinishReason is not null));
    }

    [Fact]
    public async Task RequiredToolMode_AnswerWithACall_FinishesWithToolCalls_InOneRequest()
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(() => StreamToolCallAsync(x, "Rome")));
        var (services, manager) = RemoteManagers.Create($$"""{ "models": [ {{RemoteManagers.Remote("remote", server.V1, extra: "\"check_on_load\": false")}} ] }""");
        await using var _ = services;
        var chat = manager.GetModel("remote").AsChatClient();

        var response = await chat.GetResponseAsync("Weather in Rome?", new ChatOptions { Tools = [Weather], ToolMode = ChatToolMode.RequireAny });

        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.Equal(1, server.CountOf("POST", "/chat/completions"));
    }

    [Fact]
    public async Task FunctionInvocation_RunsTheDotNetFunction_AndSendsItsResultBackWithTheCallId()
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(() =>
            x.Request.Body.Contains("\"role\":\"tool\"", StringComparison.Ordinal) ? x.StreamAnswerAsync("It is ", "sunny in Paris.") : StreamToolCallAsync(x, "Paris")));
        var (services, manager) = RemoteManagers.Create($$"""{ "models": [ {{RemoteManagers.Remote("remote", server.V1, extra: "\"check_on_load\": false")}} ] }""");
        await using var _ = services;
        var asked = new List<string>();
        var weather = AIFunctionFactory.Create((string city) =>
        {
            asked.Add(city);
            return $"sunny, 21 C in {city}";
        }, "get_weather", "The weather in a city.");
        using var chat = new ChatClientBuilder(manager.GetModel("remote").AsChatClient()).UseFunctionInvocation().Build();

        var response = await chat.GetResponseAsync("Weather in Paris?", new ChatOptions { Tools = [weather] });

        Assert.Equal(["Paris"], asked);
        Assert.Equal("It is sunny in Paris.", response.Text);
        var chats = server.Received.Where(r => r.IsChat).ToList();
        Assert.Equal(2, chats.Count);
        using var second = JsonDocument.Parse(chats[1].Body);
        var messages = second.RootElement.GetProperty("messages").EnumerateArray().ToList();
        var assistant = messages.Single(m => m.GetProperty("role").GetString() == "assistant");
        var sentCall = Assert.Single(assistant.GetProperty("tool_calls").EnumerateArray());
        Assert.Equal(CallId, sentCall.GetProperty("id").GetString());
        Assert.Equal("get_weather", sentCall.GetProperty("function").GetProperty("name").GetString());
        var tool = messages.Single(m => m.GetProperty("role").GetString() == "tool");
        Assert.Equal(CallId, tool.GetProperty("tool_call_id").GetString());
        Assert.Contains("sunny, 21 C in Paris", tool.GetProperty("content").ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ToolCall_AfterAFailedEndpoint_ComesFromTheNextEndpoint()
    {
        await using var broken = new RawHttpServer(x => x.IsChatOr(() => x.RespondAsync(503, """{"error":{"message":"busy"}}""")));
        await using var good = new RawHttpServer(x => x.IsChatOr(() => StreamToolCallAsync(x, "Lima")));
        var (services, manager) = RemoteManagers.Create($$"""{ "models": [ {{RemoteManagers.RemoteMany("remote", [broken.V1, good.V1], extra: "\"check_on_load\": false")}} ] }""");
        await using var _ = services;

        var response = await manager.GetModel("remote").AsChatClient().GetResponseAsync("Weather?", new ChatOptions { Tools = [Weather] });

        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal("Lima", call.Arguments!["city"]?.ToString());
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.True(broken.CountOf("POST", "/chat/completions") >= 1);
        Assert.Equal(1, good.CountOf("POST", "/chat/completions"));
    }

    [Fact]
    public async Task TextThenTwoParallelToolCalls_ComeBackInOrder_EachCallOnce()
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(async () =>
        {
            await x.StartEventStreamAsync();
            await x.SendEventAsync(Chunk("""{"role":"assistant","content":"Checking "}"""));
            await x.SendEventAsync(Chunk("""{"content":"both."}"""));
            await x.SendEventAsync(Chunk("""{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"get_weather","arguments":"{\"city\":"}}]}"""));
            await x.SendEventAsync(Chunk("""{"tool_calls":[{"index":1,"id":"call_b","type":"function","function":{"name":"get_weather","arguments":""}}]}"""));
            await x.SendEventAsync(Chunk("""{"tool_calls":[{"index":0,"function":{"arguments":"\"Oslo\"}"}}]}"""));
            await x.SendEventAsync(Chunk("""{"tool_calls":[{"index":1,"function":{"arguments":"{\"city\":\"Bergen\"}"}}]}"""));
            await x.SendEventAsync(FinishChunk("tool_calls"));
            await x.SendEventAsync("[DONE]");
            await x.EndStreamAsync();
        }));
        var (services, manager) = RemoteManagers.Create($$"""{ "models": [ {{RemoteManagers.Remote("remote", server.V1, extra: "\"check_on_load\": false")}} ] }""");
        await using var _ = services;

        var response = await manager.GetModel("remote").AsChatClient().GetResponseAsync("Weather?", new ChatOptions { Tools = [Weather] });

        var contents = response.Messages.SelectMany(m => m.Contents).ToList();
        Assert.Equal("Checking both.", response.Text);
        var calls = contents.OfType<FunctionCallContent>().ToList();
        Assert.Equal(["call_a", "call_b"], calls.Select(c => c.CallId));
        Assert.Equal(["Oslo", "Bergen"], calls.Select(c => c.Arguments!["city"]?.ToString()));
        Assert.True(contents.FindIndex(c => c is TextContent) < contents.FindIndex(c => c is FunctionCallContent), "the text came before the calls");
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
    }

    /// <summary>Sends one chat call with <paramref name="options"/> to a scripted server and returns the request body it received.</summary>
    private static async Task<JsonElement> SendAsync(ChatOptions options)
    {
        await using var server = new RawHttpServer(x => x.IsChatOr(() => x.StreamAnswerAsync("{}")));
        var (services, manager) = RemoteManagers.Create($$"""{ "models": [ {{RemoteManagers.Remote("remote", server.V1, extra: "\"check_on_load\": false")}} ] }""");
        await using var _ = services;

        await manager.GetModel("remote").AsChatClient().GetResponseAsync("Hello", options);

        var chat = Assert.Single(server.Received, r => r.IsChat);
        using var body = JsonDocument.Parse(chat.Body);
        return body.RootElement.Clone();
    }

    /// <summary>A tool call streamed as OpenAI does: id and name first, the arguments in pieces, then the finish reason.</summary>
    private static async Task StreamToolCallAsync(RawExchange x, string city)
    {
        await x.StartEventStreamAsync();
        foreach (var chunk in ToolCallChunks(city))
        {
            await x.SendEventAsync(chunk);
        }

        await x.SendEventAsync(FinishChunk("tool_calls"));
        await x.SendEventAsync("""{"id":"chatcmpl-raw","object":"chat.completion.chunk","created":1,"model":"raw","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":9,"total_tokens":29}}""");
        await x.SendEventAsync("[DONE]");
        await x.EndStreamAsync();
    }

    private static IEnumerable<string> ToolCallChunks(string city)
    {
        var arguments = $$"""{"city":"{{city}}"}""";
        yield return Chunk($$$"""{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"{{{CallId}}}","type":"function","function":{"name":"get_weather","arguments":""}}]}""");
        for (var i = 0; i < arguments.Length; i += 5)
        {
            var piece = JsonSerializer.Serialize(arguments.Substring(i, Math.Min(5, arguments.Length - i)));
            yield return Chunk($$$"""{"tool_calls":[{"index":0,"function":{"arguments":{{{piece}}}}}]}""");
        }
    }

    private static string Chunk(string delta) =>
        $$"""{"id":"chatcmpl-raw","object":"chat.completion.chunk","created":1,"model":"raw","choices":[{"index":0,"delta":{{delta}},"finish_reason":null}]}""";

    private static string FinishChunk(string reason) =>
        $$"""{"id":"chatcmpl-raw","object":"chat.completion.chunk","created":1,"model":"raw","choices":[{"index":0,"delta":{},"finish_reason":"{{reason}}"}]}""";
}
