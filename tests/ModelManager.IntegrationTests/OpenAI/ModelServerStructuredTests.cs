using System.ClientModel;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using SdkFinishReason = OpenAI.Chat.ChatFinishReason;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>ModelServer's <c>response_format</c>, <c>tools</c> and <c>tool_choice</c>, used through the official OpenAI .NET SDK on stories260K.</summary>
public sealed class ModelServerStructuredTests
{
    private const string Toy = """
        {"type":"object","properties":{"name":{"type":"string","maxLength":40},"count":{"type":"integer"},"colour":{"enum":["red","green","blue"]},"tags":{"type":"array","items":{"type":"string","maxLength":12},"maxItems":3}},"required":["name","count","colour","tags"],"additionalProperties":false}
        """;

    private static string Config => $$"""
        { "max_memory_mb": 512, "models": [ { "name": "stories", "type": "gguf", "path": {{JsonSerializer.Serialize(SharedModels.Stories260K)}}, "context_length": 1024, "parallel": 4 } ] }
        """;

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task JsonSchema_Strict_Sdk_GetsSchemaValidJson_WholeAndStreamed()
    {
        await using var server = await ModelServerHost.StartAsync(Config);
        var client = new ChatClient("stories", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 });
        using var schema = JsonDocument.Parse(Toy);
        for (var seed = 0; seed < 5; seed++)
        {
            var options = new ChatCompletionOptions
            {
                ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("toy", BinaryData.FromString(Toy), jsonSchemaIsStrict: true),
                Temperature = 0.9f,
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
                Seed = seed,
#pragma warning restore OPENAI001
            };

            var whole = (await client.CompleteChatAsync([new UserChatMessage("Tell me about a toy.")], options)).Value;
            var streamed = new List<StreamingChatCompletionUpdate>();
            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("Tell me about a toy.")], options))
            {
                streamed.Add(update);
            }

            Assert.Equal(SdkFinishReason.Stop, whole.FinishReason);
            Assert.Equal(SdkFinishReason.Stop, streamed.Single(u => u.FinishReason is not null).FinishReason);
            foreach (var text in new[] { whole.Content[0].Text, string.Concat(streamed.SelectMany(u => u.ContentUpdate).Select(p => p.Text)) })
            {
                using var document = JsonDocument.Parse(text);
                SchemaCheck.Validate(schema.RootElement, schema.RootElement, document.RootElement, "$");
            }
        }
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task JsonObject_Sdk_GetsAJsonObject()
    {
        await using var server = await ModelServerHost.StartAsync(Config);
        var client = new ChatClient("stories", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 });

        var completion = (await client.CompleteChatAsync([new UserChatMessage("Describe Lily.")], new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() })).Value;

        using var document = JsonDocument.Parse(completion.Content[0].Text);
        Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task ASchemaTheModelCannotEnforce_Gets400_NamingThePath()
    {
        await using var server = await ModelServerHost.StartAsync(Config);
        var client = new ChatClient("stories", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 });
        var pattern = """{"type":"object","properties":{"code":{"type":"string","pattern":"^(?=[A-Z])"}}}""";

        var error = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")],
            new ChatCompletionOptions { ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("code", BinaryData.FromString(pattern)) }));

        Assert.Equal(400, error.Status);
        Assert.Contains("$.properties.code", error.Message, StringComparison.Ordinal);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Tools_Sdk_GetsToolCalls_WholeAndStreamed_AndTheResultRoundTrips()
    {
        await using var server = await ModelServerHost.StartAsync(Config);
        var client = new ChatClient("stories", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 });
        const string Parameters = """{"type":"object","properties":{"city":{"type":"string","maxLength":30},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"]}""";
        using var schema = JsonDocument.Parse(Parameters);
        var options = new ChatCompletionOptions
        {
            Tools = { ChatTool.CreateFunctionTool("get_weather", "Gets the weather in a city", BinaryData.FromString(Parameters)), ChatTool.CreateFunctionTool("get_time", "Gets the time") },
            ToolChoice = ChatToolChoice.CreateFunctionChoice("get_weather"),
        };
        List<global::OpenAI.Chat.ChatMessage> conversation = [new UserChatMessage("What is the weather in Paris?")];

        var whole = (await client.CompleteChatAsync(conversation, options)).Value;
        var streamed = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in client.CompleteChatStreamingAsync(conversation, options))
        {
            streamed.Add(update);
        }

        Assert.Equal(SdkFinishReason.ToolCalls, whole.FinishReason);
        var call = Assert.Single(whole.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.False(string.IsNullOrEmpty(call.Id));
        using (var arguments = JsonDocument.Parse(call.FunctionArguments.ToString()))
        {
            SchemaCheck.Validate(schema.RootElement, schema.RootElement, arguments.RootElement, "$");
        }

        Assert.Equal(SdkFinishReason.ToolCalls, streamed.Single(u => u.FinishReason is not null).FinishReason);
        var pieces = streamed.SelectMany(u => u.ToolCallUpdates).ToList();
        Assert.Equal("get_weather", Assert.Single(pieces, p => p.FunctionName is not null).FunctionName);
        using (var arguments = JsonDocument.Parse(string.Concat(pieces.Select(p => p.FunctionArgumentsUpdate?.ToString()))))
        {
            SchemaCheck.Validate(schema.RootElement, schema.RootElement, arguments.RootElement, "$");
        }

        // The result goes back as the SDK sends it; the model answers in text.
        conversation.Add(new AssistantChatMessage(whole.ToolCalls));
        conversation.Add(new ToolChatMessage(call.Id, "sunny, 21 degrees"));
        var answer = (await client.CompleteChatAsync(conversation, new ChatCompletionOptions { Tools = { options.Tools[0] }, MaxOutputTokenCount = 30 })).Value;
        Assert.NotEqual(SdkFinishReason.ToolCalls, answer.FinishReason);
        Assert.False(string.IsNullOrWhiteSpace(answer.Content[0].Text));
    }
}
