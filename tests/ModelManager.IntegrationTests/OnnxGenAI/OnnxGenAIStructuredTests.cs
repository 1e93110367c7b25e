using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager.IntegrationTests;

/// <summary>JSON response formats on the huggingface backend go through ONNX Runtime GenAI's guidance (llguidance) on the tiny GPT-2.</summary>
/// <remarks>
/// The tiny model embeds 1000 ids but its tokenizer is GPT-2's full one, so a grammar that forces a multi-character token the model
/// cannot produce (<c>{"</c>, <c>true</c>) fails; the schemas here leave the model a choice at every step, as a real model always has.
/// </remarks>
public sealed class OnnxGenAIStructuredTests
{
    private const string Template = "{% for m in messages %}{{ m.content }}{% if not loop.last %} {% endif %}{% endfor %}";

    public static TheoryData<string, long?> SchemasAndSeeds()
    {
        string[] schemas =
        [
            """{"type":"string","maxLength":10}""",
            """{"type":"integer","minimum":1,"maximum":99}""",
        ];
        string[] sampledOnly =
        [
            """{"type":"array","items":{"enum":["x","y"]},"maxItems":3}""",
            """{"x-guidance":{"whitespace_pattern":" ?"},"type":"object","properties":{"a":{"type":"integer","minimum":0,"maximum":9}},"required":["a"],"additionalProperties":false}""",
        ];
        var data = new TheoryData<string, long?>();
        foreach (var schema in schemas)
        {
            data.Add(schema, null);
        }

        foreach (var schema in schemas.Concat(sampledOnly))
        {
            foreach (var seed in new long?[] { 1, 2, 3 })
            {
                data.Add(schema, seed);
            }
        }

        return data;
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ResponseFormatJson_Greedy_GivesAJsonObject_AndEndsAtEndOfSequence()
    {
        await using var tiny = OnnxManagers.CreateTiny();

        var result = await tiny.Model.GenerateResultAsync(OnnxManagers.Prompt, new GenerationOptions { DoSample = false, MaxTokens = 50, ResponseFormat = ChatResponseFormat.Json });

        Assert.Equal(GenerationFinishReason.EndOfSequence, result.Outcome.FinishReason);
        using var json = JsonDocument.Parse(result.Text);
        Assert.Equal(JsonValueKind.Object, json.RootElement.ValueKind);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task WithoutResponseFormat_TheSameCall_IsNotJson()
    {
        await using var tiny = OnnxManagers.CreateTiny();

        var result = await tiny.Model.GenerateResultAsync(OnnxManagers.Prompt, new GenerationOptions { DoSample = false, MaxTokens = 50 });

        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(result.Text));
    }

    [SharedModelTheory(OnnxManagers.TinyMarker)]
    [MemberData(nameof(SchemasAndSeeds))]
    public async Task ForJsonSchema_OutputParses_AndMatchesTheSchema(string schemaJson, long? seed)
    {
        await using var tiny = OnnxManagers.CreateTiny();
        var schema = JsonDocument.Parse(schemaJson).RootElement;
        var options = new GenerationOptions
        {
            MaxTokens = 60,
            ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "answer"),
            DoSample = seed is not null,
            Temperature = seed is null ? null : 1.0,
            Seed = seed,
        };

        var result = await tiny.Model.GenerateResultAsync(OnnxManagers.Prompt, options);

        Assert.True(result.Outcome.FinishReason == GenerationFinishReason.EndOfSequence, $"{result.Outcome.FinishReason} after «{result.Text}»");
        using var output = JsonDocument.Parse(result.Text);
        var violation = MiniSchema.Violation(schema, output.RootElement);
        Assert.True(violation is null, $"«{result.Text}»: {violation}");
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ForJsonSchema_SampledSeeds_GiveDifferentValidOutputs()
    {
        await using var tiny = OnnxManagers.CreateTiny();
        var schema = JsonDocument.Parse("""{"type":"integer","minimum":1,"maximum":99}""").RootElement;
        var outputs = new HashSet<string>();

        foreach (var seed in new long[] { 1, 2, 3 })
        {
            var result = await tiny.Model.GenerateResultAsync(OnnxManagers.Prompt,
                new GenerationOptions { DoSample = true, Temperature = 1, Seed = seed, MaxTokens = 10, ResponseFormat = ChatResponseFormat.ForJsonSchema(schema) });
            var value = JsonDocument.Parse(result.Text).RootElement.GetInt32();
            Assert.InRange(value, 1, 99);
            outputs.Add(result.Text);
        }

        Assert.True(outputs.Count > 1, $"three seeds gave {string.Join(", ", outputs)}");
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ResponseFormatJson_CutByMaxTokens_FinishesWithMaxTokens()
    {
        await using var tiny = OnnxManagers.CreateTiny();

        var result = await tiny.Model.GenerateResultAsync(OnnxManagers.Prompt,
            new GenerationOptions { DoSample = true, Temperature = 1, Seed = 1, MaxTokens = 4, ResponseFormat = ChatResponseFormat.Json });

        Assert.Equal(GenerationFinishReason.MaxTokens, result.Outcome.FinishReason);
        Assert.Equal(4, result.Outcome.GeneratedTokens);
        Assert.StartsWith("{", result.Text, StringComparison.Ordinal);
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(result.Text));
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ChatClient_ForJsonSchema_ReturnsJsonText_StreamingToo()
    {
        var (services, manager) = OnnxManagers.Create($$"""
            { "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("chatty", OnnxManagers.TinyGpt2, extra: "\"chat_template\": " + JsonSerializer.Serialize(Template))}} ] }
            """);
        await using var _ = services;
        var chat = manager.GetModel("chatty").AsChatClient();
        var schema = JsonDocument.Parse("""{"type":"integer","minimum":1,"maximum":99}""").RootElement;
        var options = new ChatOptions { Temperature = 1, Seed = 2, MaxOutputTokens = 10, ResponseFormat = ChatResponseFormat.ForJsonSchema(schema) };
        ChatMessage[] messages = [new(ChatRole.System, "a b"), new(ChatRole.User, "c d")];

        var response = await chat.GetResponseAsync(messages, options);
        var streamed = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(messages, options))
        {
            streamed.Add(update);
        }

        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.InRange(JsonDocument.Parse(response.Text).RootElement.GetInt32(), 1, 99);
        Assert.Equal(response.Text, string.Concat(streamed.Select(u => u.Text)));
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ForJsonSchema_NotAnObject_TooDeep_OrRejectedByLlguidance_IsAnArgumentException()
    {
        await using var tiny = OnnxManagers.CreateTiny();
        var deep = string.Concat(Enumerable.Repeat("""{"type":"array","items":""", 40)) + """{"type":"integer"}""" + new string('}', 40);

        var notObject = await Assert.ThrowsAsync<ArgumentException>(() => GenerateAsync(tiny, "[1, 2]"));
        var tooDeep = await Assert.ThrowsAsync<ArgumentException>(() => GenerateAsync(tiny, deep));
        var unknownType = await Assert.ThrowsAsync<ArgumentException>(() => GenerateAsync(tiny, """{"type":"frob"}"""));
        var lookAround = await Assert.ThrowsAsync<ArgumentException>(() => GenerateAsync(tiny, """{"type":"string","pattern":"(?=x)a"}"""));

        Assert.Contains("'tiny'", notObject.Message, StringComparison.Ordinal);
        Assert.Contains("must be a JSON object", notObject.Message, StringComparison.Ordinal);
        Assert.Contains("more than 32 deep", tooDeep.Message, StringComparison.Ordinal);
        Assert.Contains("Invalid type: frob", unknownType.Message, StringComparison.Ordinal);
        Assert.Contains("look-around", lookAround.Message, StringComparison.Ordinal);

        // The model still serves after every refusal.
        var after = await tiny.Model.GenerateResultAsync(OnnxManagers.Prompt, new GenerationOptions { DoSample = false, MaxTokens = 3 });
        Assert.Equal(3, after.Outcome.GeneratedTokens);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ForJsonSchema_ForcingATokenBeyondTheModelsVocabulary_IsAnInvalidOperationException_NotACrash()
    {
        await using var tiny = OnnxManagers.CreateTiny();

        // "true"/"false" are single GPT-2 tokens above id 1000: the grammar forces one the tiny model cannot produce.
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => GenerateAsync(tiny, """{"type":"boolean"}"""));

        Assert.Contains("'tiny'", error.Message, StringComparison.Ordinal);
        Assert.Contains("vocab_size of 1000", error.Message, StringComparison.Ordinal);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task Tools_AreNotSupported_NamingTheModel()
    {
        var (services, manager) = OnnxManagers.Create($$"""
            { "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("chatty", OnnxManagers.TinyGpt2, extra: "\"chat_template\": " + JsonSerializer.Serialize(Template))}} ] }
            """);
        await using var _ = services;
        var tool = AIFunctionFactory.Create((string city) => city, "get_weather");
        var chat = manager.GetModel("chatty").AsChatClient();

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => chat.GetResponseAsync("a b", new ChatOptions { Tools = [tool] }));
        var off = await chat.GetResponseAsync("a b", new ChatOptions { Tools = [tool], ToolMode = ChatToolMode.None, MaxOutputTokens = 3 });

        Assert.Contains("Model 'chatty'", error.Message, StringComparison.Ordinal);
        Assert.Contains("tool calls are supported on gguf and openai models", error.Message, StringComparison.Ordinal);
        Assert.Equal(ChatFinishReason.Length, off.FinishReason); // tools switched off: an ordinary text call
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task AHistoryWithToolCalls_IsNotSupported_RatherThanRenderedWithoutThem()
    {
        var (services, manager) = OnnxManagers.Create($$"""
            { "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("chatty", OnnxManagers.TinyGpt2, extra: "\"chat_template\": " + JsonSerializer.Serialize(Template))}} ] }
            """);
        await using var _ = services;
        ChatMessage[] history =
        [
            new(ChatRole.User, "a b"),
            new(ChatRole.Assistant, [new FunctionCallContent("c1", "get_weather", new Dictionary<string, object?> { ["city"] = "x" })]),
            new(ChatRole.Tool, [new FunctionResultContent("c1", "sunny")]),
        ];

        var error = await Assert.ThrowsAsync<NotSupportedException>(() => manager.GetModel("chatty").AsChatClient().GetResponseAsync(history));

        Assert.Contains("Model 'chatty'", error.Message, StringComparison.Ordinal);
        Assert.Contains("tool calls or tool results", error.Message, StringComparison.Ordinal);
    }

    private static Task<GenerationResult> GenerateAsync(OneModelManager tiny, string schema) =>
        tiny.Model.GenerateResultAsync(OnnxManagers.Prompt,
            new GenerationOptions { DoSample = false, MaxTokens = 20, ResponseFormat = ChatResponseFormat.ForJsonSchema(JsonDocument.Parse(schema).RootElement) });

    /// <summary>Checks the JSON Schema keywords these tests use (type, enum, bounds, items, properties, required, additionalProperties).</summary>
    private static class MiniSchema
    {
        public static string? Violation(JsonElement schema, JsonElement value)
        {
            if (schema.TryGetProperty("enum", out var choices) && !choices.EnumerateArray().Any(c => JsonElement.DeepEquals(c, value)))
            {
                return $"{value} is not one of {choices}";
            }

            if (!schema.TryGetProperty("type", out var type))
            {
                return null;
            }

            switch (type.GetString())
            {
                case "string":
                    if (value.ValueKind != JsonValueKind.String)
                    {
                        return $"{value} is not a string";
                    }

                    return schema.TryGetProperty("maxLength", out var max) && value.GetString()!.Length > max.GetInt32() ? $"{value} is longer than {max}" : null;
                case "integer":
                    if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var n))
                    {
                        return $"{value} is not an integer";
                    }

                    return (schema.TryGetProperty("minimum", out var lo) && n < lo.GetInt64()) || (schema.TryGetProperty("maximum", out var hi) && n > hi.GetInt64())
                        ? $"{n} is out of range" : null;
                case "array":
                    if (value.ValueKind != JsonValueKind.Array)
                    {
                        return $"{value} is not an array";
                    }

                    if (schema.TryGetProperty("maxItems", out var maxItems) && value.GetArrayLength() > maxItems.GetInt32())
                    {
                        return $"{value} has more than {maxItems} items";
                    }

                    return schema.TryGetProperty("items", out var items) ? value.EnumerateArray().Select(v => Violation(items, v)).FirstOrDefault(v => v is not null) : null;
                case "object":
                    if (value.ValueKind != JsonValueKind.Object)
                    {
                        return $"{value} is not an object";
                    }

                    var properties = schema.TryGetProperty("properties", out var p) ? p : default;
                    if (schema.TryGetProperty("required", out var required) && required.EnumerateArray().FirstOrDefault(r => !value.TryGetProperty(r.GetString()!, out _)) is { ValueKind: JsonValueKind.String } missing)
                    {
                        return $"{value} lacks {missing}";
                    }

                    foreach (var property in value.EnumerateObject())
                    {
                        if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var sub))
                        {
                            if (Violation(sub, property.Value) is { } inner)
                            {
                                return inner;
                            }
                        }
                        else if (schema.TryGetProperty("additionalProperties", out var extra) && extra.ValueKind == JsonValueKind.False)
                        {
                            return $"{value} has the extra property {property.Name}";
                        }
                    }

                    return null;
                default:
                    return $"MiniSchema does not check type {type}";
            }
        }
    }
}
