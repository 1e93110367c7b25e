using System.ComponentModel;
using System.Text.Json;
using LLama;
using LLama.Common;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit.Abstractions;

namespace ModelManager.IntegrationTests;

/// <summary>Tool calls on gguf models through the chat client: required calls are constrained to a valid call, results flow back, the conversation continues.</summary>
public sealed class ToolCallTests(ITestOutputHelper output)
{
    public enum Unit { Celsius, Fahrenheit }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task RequireSpecific_OnStories260K_YieldsOneValidCallOfThatFunction_GreedySampledAndStreamed()
    {
        await using var m = Stories();
        var chat = m.Model.AsChatClient();
        var weather = Weather(_ => "sunny");
        var tools = new List<AITool> { AIFunctionFactory.Create(() => 7, "get_time"), weather };
        for (var i = 0; i < 10; i++)
        {
            var options = new ChatOptions { Tools = tools, ToolMode = ChatToolMode.RequireSpecific("get_weather"), Temperature = i == 0 ? 0 : 0.9f, Seed = i };
            var streamed = i % 2 == 1;
            List<AIContent> contents;
            ChatFinishReason? reason;
            if (streamed)
            {
                var updates = await chat.GetStreamingResponseAsync("What is the weather in Paris?", options).ToListAsync();
                contents = [.. updates.SelectMany(u => u.Contents)];
                reason = updates.Single(u => u.FinishReason is not null).FinishReason;
            }
            else
            {
                var response = await chat.GetResponseAsync("What is the weather in Paris?", options);
                contents = [.. response.Messages.SelectMany(x => x.Contents)];
                reason = response.FinishReason;
            }

            var call = Assert.Single(contents.OfType<FunctionCallContent>());
            output.WriteLine($"{call.CallId} {call.Name} {JsonSerializer.Serialize(call.Arguments)}");
            Assert.Equal("get_weather", call.Name);
            Assert.False(string.IsNullOrEmpty(call.CallId));
            Assert.Equal(ChatFinishReason.ToolCalls, reason);
            using var arguments = JsonDocument.Parse(JsonSerializer.Serialize(call.Arguments));
            var schema = weather.JsonSchema;
            SchemaCheck.Validate(schema, schema, arguments.RootElement, "$");
        }
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task UseFunctionInvocation_InvokesTheDotNetFunction_AndTheConversationContinuesToText()
    {
        await using var m = Stories();
        var cities = new List<string>();
        IChatClient chat = m.Model.AsChatClient().AsBuilder().UseFunctionInvocation().Build();
        var options = new ChatOptions { Tools = [Weather(city => { cities.Add(city); return "sunny and warm"; })], ToolMode = ChatToolMode.RequireSpecific("get_weather"), Temperature = 0 };

        var response = await chat.GetResponseAsync("What is the weather in Paris?", options);

        Assert.Single(cities);
        var messages = response.Messages.ToList();
        var call = Assert.Single(messages.SelectMany(x => x.Contents).OfType<FunctionCallContent>());
        var result = Assert.Single(messages.SelectMany(x => x.Contents).OfType<FunctionResultContent>());
        Assert.Equal(call.CallId, result.CallId);
        Assert.Equal("sunny and warm", result.Result?.ToString());
        Assert.False(string.IsNullOrWhiteSpace(messages[^1].Text), "the conversation ended without a text answer");
        Assert.NotEqual(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.True(response.Usage!.InputTokenCount > 0);
        output.WriteLine(messages[^1].Text);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task AutoToolMode_OnAModelThatWritesNoCall_IsText_AndToolModeNone_OffersNothing()
    {
        await using var m = Stories();
        var chat = m.Model.AsChatClient();
        var tools = new List<AITool> { Weather(_ => "x") };

        var auto = await chat.GetResponseAsync("Once upon a time", new ChatOptions { Tools = tools, Temperature = 0, MaxOutputTokens = 24 });
        var none = await chat.GetResponseAsync("Once upon a time", new ChatOptions { Tools = tools, ToolMode = ChatToolMode.None, Temperature = 0, MaxOutputTokens = 24 });
        var plain = await chat.GetResponseAsync("Once upon a time", new ChatOptions { Temperature = 0, MaxOutputTokens = 24 });

        Assert.Empty(auto.Messages.SelectMany(x => x.Contents).OfType<FunctionCallContent>());
        Assert.NotEqual(ChatFinishReason.ToolCalls, auto.FinishReason);
        Assert.False(string.IsNullOrWhiteSpace(auto.Text));
        Assert.Equal(plain.Text, none.Text); // no tools rendered: the very same prompt
        Assert.True(auto.Usage!.InputTokenCount > plain.Usage!.InputTokenCount, "the offered tool is described in the prompt");
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task ATrigger_StartsTheLazyGrammar_FreeTextBeforeIt_TheGrammarAfterIt()
    {
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(SharedModels.Stories260K) { GpuLayerCount = 0 });
        await using var generator = BatchedGenerator.Create("stories", weights, new ModelParams(SharedModels.Stories260K) { ContextSize = 512, GpuLayerCount = 0 }, 512, 1, null, NullLogger.Instance);
        var constraint = OutputConstraint.Create("root ::= \" was\" \" <ok>\" [0-9]{2}\n", " was", "a test grammar");
        var prompt = weights.Tokenize("Once upon a time, there", add_bos: true, special: false, System.Text.Encoding.UTF8);

        var updates = await generator.GenerateAsync(prompt, new GenerationOptions { DoSample = false, MaxTokens = 64 }, constraint, CancellationToken.None).ToListAsync();
        var text = string.Concat(updates.Select(u => u.Text));
        output.WriteLine(text);

        // Free until the model wrote " was" (stories260K soon does); from there the grammar, which then ends the output.
        var at = text.IndexOf(" was", StringComparison.Ordinal);
        Assert.True(at >= 0, text);
        Assert.Matches("^ was <ok>[0-9]{2}$", text[at..]);
        Assert.Equal(GenerationFinishReason.EndOfSequence, updates[^1].Outcome!.FinishReason);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task BadToolRequests_AreTypedErrors_NamingTheCulprit_AndTheModelStillServes()
    {
        await using var m = Stories();
        var chat = m.Model.AsChatClient();
        var pattern = AIFunctionFactory.CreateDeclaration("lookahead", null, JsonDocument.Parse("""{"type":"object","properties":{"code":{"type":"string","pattern":"^(?=x)"}}}""").RootElement);
        var tools = new List<AITool> { Weather(_ => "x"), pattern };

        var unenforceable = await Assert.ThrowsAsync<NotSupportedException>(() => chat.GetResponseAsync("hi", new ChatOptions { Tools = tools, ToolMode = ChatToolMode.RequireAny }));
        var missing = await Assert.ThrowsAsync<ArgumentException>(() => chat.GetResponseAsync("hi", new ChatOptions { Tools = tools, ToolMode = ChatToolMode.RequireSpecific("nope") }));
        var both = await Assert.ThrowsAsync<NotSupportedException>(() => chat.GetResponseAsync("hi", new ChatOptions { Tools = [Weather(_ => "x")], ResponseFormat = ChatResponseFormat.Json }));
        var after = await chat.GetResponseAsync("Once upon a time", new ChatOptions { Temperature = 0, MaxOutputTokens = 8 });

        Assert.Contains("'lookahead'", unenforceable.Message, StringComparison.Ordinal);
        Assert.Contains("$.properties.code.pattern", unenforceable.Message, StringComparison.Ordinal);
        Assert.Contains("Model 'stories'", unenforceable.Message, StringComparison.Ordinal);
        Assert.Contains("'nope'", missing.Message, StringComparison.Ordinal);
        Assert.Contains("Model 'stories'", both.Message, StringComparison.Ordinal);
        Assert.Equal(8, after.Usage!.OutputTokenCount);
        Assert.Equal(0, m.Manager.GetModelStats()["stories"].FailureCount);
    }

    private static AIFunction Weather(Func<string, string> answer) => AIFunctionFactory.Create(
        ([Description("The city")] string city, Unit unit) => answer(city), "get_weather", "Gets the current weather in a city");

    private static OneModelManager Stories() => GgufManagers.CreateStories(
        $$"""{ "name": "stories", "type": "gguf", "path": {{JsonSerializer.Serialize(SharedModels.Stories260K)}}, "context_length": 2048, "parallel": 4 }""");
}
