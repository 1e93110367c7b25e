using System.Text.Json;
using Microsoft.Extensions.AI;
using Xunit.Abstractions;
using static ModelManager.IntegrationTests.SchemaRecords;

namespace ModelManager.IntegrationTests;

/// <summary>Structured output on stories260K, a model that knows nothing of JSON: every answer parses and satisfies the schema it was asked for.</summary>
public sealed class StructuredOutputTests(ITestOutputHelper output)
{
    private const int Prompts = 20;

    public static TheoryData<string> Types => new() { "Pet", "Shelter", "TreeNode", "Reading", "Route", "Switches", "Scores", "Letter", "Species", "string[]" };

    [SharedModelTheory("stories260K/stories260K.gguf")]
    [MemberData(nameof(Types))]
    public async Task GetResponseAsyncOfT_GreedyAndSampled_AlwaysParsesAndSatisfiesTheSchema(string type)
    {
        await using var m = Stories();
        var recorded = new RecordingChatClient(m.Model.AsChatClient());
        IChatClient chat = recorded;

        for (var sampled = 0; sampled <= 1; sampled++)
        {
            var options = sampled == 0 ? new ChatOptions { Temperature = 0 } : null;
            var calls = Enumerable.Range(0, Prompts).Select(i => Ask(chat, type, $"Tell me about {Names[i]}.", sampled == 0 ? options : new ChatOptions { Temperature = 0.9f, Seed = i }));
            var results = await Task.WhenAll(calls);
            foreach (var (format, response) in recorded.Calls)
            {
                output.WriteLine($"[{response.FinishReason} {response.Usage?.OutputTokenCount}] {response.Text}");
            }

            Assert.All(results, failed => Assert.True(failed is null, $"the typed result did not deserialize: {failed}"));
        }

        Assert.Equal(2 * Prompts, recorded.Calls.Count);
        foreach (var (format, response) in recorded.Calls)
        {
            var schema = Assert.IsType<ChatResponseFormatJson>(format).Schema!.Value;
            Assert.Equal(ChatFinishReason.Stop, response.FinishReason); // the grammar completed the value; nothing cut it
            using var document = JsonDocument.Parse(response.Text);
            SchemaCheck.Validate(schema, schema, document.RootElement, "$");
        }
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task JsonWithoutSchema_IsAlwaysAJsonObject_StreamedOrNot()
    {
        await using var m = Stories();
        var chat = m.Model.AsChatClient();
        for (var i = 0; i < Prompts; i++)
        {
            var options = new ChatOptions { ResponseFormat = ChatResponseFormat.Json, Temperature = 0.9f, Seed = i };
            var text = i % 2 == 0
                ? (await chat.GetResponseAsync($"Tell me about {Names[i]}.", options)).Text
                : string.Concat((await chat.GetStreamingResponseAsync($"Tell me about {Names[i]}.", options).ToListAsync()).Select(u => u.Text));
            output.WriteLine(text);
            using var document = JsonDocument.Parse(text);
            Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        }
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task MaxTokensBeforeTheValueIsComplete_IsLength_AndTheJsonIsCut()
    {
        await using var m = Stories();
        var options = new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema<Letter>(), Temperature = 0, MaxOutputTokens = 7 };

        var response = await m.Model.AsChatClient().GetResponseAsync("Write a letter.", options);

        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(7, response.Usage!.OutputTokenCount);
        Assert.StartsWith("{", response.Text, StringComparison.Ordinal);
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(response.Text));
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task TheConfiguredMaxTokens_DoesNotCutAConstrainedValue_ARequiredCallNeither()
    {
        await using var m = GgufManagers.CreateStories(
            $$"""{ "name": "stories", "type": "gguf", "path": {{JsonSerializer.Serialize(SharedModels.Stories260K)}}, "context_length": 2048, "parallel": 2, "parameters": { "max_tokens": 8 } }""");
        var chat = m.Model.AsChatClient();
        var tool = AIFunctionFactory.Create((string city) => city, "get_weather");

        var json = await chat.GetResponseAsync("Write a letter.", new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema<Pet>(), Temperature = 0 });
        var call = await chat.GetResponseAsync("Weather?", new ChatOptions { Tools = [tool], ToolMode = ChatToolMode.RequireAny, Temperature = 0 });
        var text = await chat.GetResponseAsync("Write a letter.", new ChatOptions { Temperature = 0 });

        Assert.Equal(ChatFinishReason.Stop, json.FinishReason);
        Assert.True(json.Usage!.OutputTokenCount > 8);
        Assert.NotNull(JsonSerializer.Deserialize<Pet>(json.Text, AIJsonUtilities.DefaultOptions));
        Assert.Equal(ChatFinishReason.ToolCalls, call.FinishReason);
        var calls = call.Messages.SelectMany(x => x.Contents).OfType<FunctionCallContent>().ToList();
        Assert.NotEmpty(calls); // RequireAny allows parallel calls; greedy stories260K repeats its call
        Assert.All(calls, c => Assert.Equal("get_weather", c.Name));
        Assert.Equal(ChatFinishReason.Length, text.FinishReason); // plain text keeps the configured limit
        Assert.Equal(8, text.Usage!.OutputTokenCount);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task RawPrompt_WithASchema_IsConstrainedToo()
    {
        await using var m = Stories();
        var format = ChatResponseFormat.ForJsonSchema<Point>();

        var result = await m.Model.GenerateResultAsync("Once upon a time", new GenerationOptions { ResponseFormat = format, DoSample = false, MaxTokens = null });

        Assert.Equal(GenerationFinishReason.EndOfSequence, result.Outcome.FinishReason);
        var point = JsonSerializer.Deserialize<Point>(result.Text, AIJsonUtilities.DefaultOptions);
        Assert.NotNull(point);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task ASchemaNoGrammarCanEnforce_IsNotSupported_NamingModelAndPath_AndTheModelStillServes()
    {
        await using var m = Stories();
        var chat = m.Model.AsChatClient();
        using var pattern = JsonDocument.Parse("""{"type":"object","properties":{"code":{"type":"string","pattern":"^(?!ABC)[A-Z]{3}$"}},"required":["code"]}""");
        using var malformed = JsonDocument.Parse("""{"type":"object","properties":{"a":{"$ref":"#/$defs/Missing"}}}""");

        var unsupported = await Assert.ThrowsAsync<NotSupportedException>(() =>
            chat.GetResponseAsync("hi", new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(pattern.RootElement, "Code") }));
        var invalid = await Assert.ThrowsAsync<ArgumentException>(() =>
            chat.GetResponseAsync("hi", new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(malformed.RootElement, "Broken") }));
        var after = await chat.GetResponseAsync("Once upon a time", new ChatOptions { Temperature = 0, MaxOutputTokens = 8 });

        Assert.Contains("Model 'stories'", unsupported.Message, StringComparison.Ordinal);
        Assert.Contains("'Code'", unsupported.Message, StringComparison.Ordinal);
        Assert.Contains("$.properties.code", unsupported.Message, StringComparison.Ordinal);
        Assert.Contains("Model 'stories'", invalid.Message, StringComparison.Ordinal);
        Assert.Contains("'Broken'", invalid.Message, StringComparison.Ordinal);
        Assert.Equal(8, after.Usage!.OutputTokenCount);
        Assert.Equal(0, m.Manager.GetModelStats()["stories"].FailureCount);
    }

    private static readonly string[] Names =
    [
        "Lily", "Tom", "a red ball", "the park", "a big dog", "Sue", "the sun", "a little cat", "Ben", "the garden",
        "a happy bird", "Max", "the sea", "a toy car", "Anna", "a tree", "the moon", "a fish", "Tim", "a cake",
    ];

    /// <summary>Asks for a <paramref name="type"/> and returns null when the typed result deserialized, else the text that did not.</summary>
    private static async Task<string?> Ask(IChatClient chat, string type, string prompt, ChatOptions? options) => type switch
    {
        "Pet" => Failed(await chat.GetResponseAsync<Pet>(prompt, options)),
        "Shelter" => Failed(await chat.GetResponseAsync<Shelter>(prompt, options)),
        "TreeNode" => Failed(await chat.GetResponseAsync<TreeNode>(prompt, options)),
        "Reading" => Failed(await chat.GetResponseAsync<Reading>(prompt, options)),
        "Route" => Failed(await chat.GetResponseAsync<Route>(prompt, options)),
        "Switches" => Failed(await chat.GetResponseAsync<Switches>(prompt, options)),
        "Scores" => Failed(await chat.GetResponseAsync<Scores>(prompt, options)),
        "Letter" => Failed(await chat.GetResponseAsync<Letter>(prompt, options)),
        "Species" => Failed(await chat.GetResponseAsync<Species>(prompt, options)),
        "string[]" => Failed(await chat.GetResponseAsync<string[]>(prompt, options)),
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    private static string? Failed<T>(ChatResponse<T> response) => response.TryGetResult(out _) ? null : response.Text;

    /// <summary>stories260K with a 2,048-token context, 8 sequences, and no configured max_tokens: only the grammar ends a JSON answer.</summary>
    private static OneModelManager Stories() => GgufManagers.CreateStories(
        $$"""{ "name": "stories", "type": "gguf", "path": {{JsonSerializer.Serialize(SharedModels.Stories260K)}}, "context_length": 2048, "parallel": 8 }""");

    /// <summary>Records each call's response format and response, to check the output against the schema the call really sent.</summary>
    private sealed class RecordingChatClient(IChatClient inner) : DelegatingChatClient(inner)
    {
        public List<(ChatResponseFormat? Format, ChatResponse Response)> Calls { get; } = [];

        public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
        {
            var response = await base.GetResponseAsync(messages, options, cancellationToken);
            lock (Calls)
            {
                Calls.Add((options?.ResponseFormat, response));
            }

            return response;
        }
    }
}
