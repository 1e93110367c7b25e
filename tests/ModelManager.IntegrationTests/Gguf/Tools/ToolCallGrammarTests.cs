using System.Text.Json;
using System.Text.RegularExpressions;
using LLama;
using Microsoft.Extensions.AI;
using Xunit.Abstractions;

namespace ModelManager.IntegrationTests.Tools;

public sealed partial class ToolCallGrammarTests(ITestOutputHelper output)
{
    // Room for ToolCallGrammar.MaxCalls calls of about 100 pieces each (the grammar's whitespace included).
    private const int MaxTokens = 1_000;

    // stories260K tells stories inside open strings, so the city is bounded here (a schema bound, which the grammar enforces, not one it adds).
    private const string WeatherSchema = """{"type":"object","properties":{"city":{"type":"string","maxLength":24},"unit":{"type":"string","enum":["celsius","fahrenheit"]}},"required":["city","unit"]}""";

    public static TheoryData<string> Families() => ["hermes", "llama3", "mistral", "generic"];

    [Theory]
    [MemberData(nameof(Families))]
    public void CallGrammar_EveryFamilySingleParallelAndTriggered_DefinesEveryRuleAndStartsWithTheTrigger(string family)
    {
        var format = Format(family);
        List<AIFunctionDeclaration> tools = [.. ToolFixtures.Tools(), Declaration("tree", TreeSchema), Declaration("ping", null)];
        foreach (bool single in new[] { true, false })
        {
            foreach (string gbnf in new[] { format.CallGrammar(tools, single), format.TriggeredGrammar(tools, single) })
            {
                AssertEveryRuleIsDefined(gbnf);
                Assert.Contains(JsonSchemaGrammar.Literal("{\"name\": \"get_weather\", \"" + (family == "llama3" ? "parameters" : "arguments") + "\": "), gbnf, StringComparison.Ordinal);
                Assert.Contains(JsonSchemaGrammar.Literal("{\"name\": \"tree\", ")[..^1], gbnf, StringComparison.Ordinal);
                Assert.Equal(single, !gbnf.Split('\n')[0].Contains("{0,7}", StringComparison.Ordinal));
            }
        }
    }

    [Fact]
    public void CallGrammar_ToolsWithDefsAndRecursiveRefs_ResolveEachUnderItsOwnTool()
    {
        // Both tools define $defs/Node differently; each call's arguments must use its own.
        const string Other = """{"type":"object","properties":{"n":{"$ref":"#/$defs/Node"}},"required":["n"],"$defs":{"Node":{"type":"object","properties":{"v":{"type":"integer"}},"required":["v"]}}}""";
        string gbnf = Format("hermes").CallGrammar([Declaration("tree", TreeSchema), Declaration("other", Other)], single: true);

        AssertEveryRuleIsDefined(gbnf);
        Assert.Contains("t0-Node", gbnf, StringComparison.Ordinal);
        Assert.Contains("t1-Node", gbnf, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"code":{"type":"string","pattern":"^(?![a-z]+$)"}}}""", "$.properties.code.pattern")]
    [InlineData("""{"type":"object","properties":{"n":{"$ref":"#/$defs/A"}},"$defs":{"A":{"type":"integer","multipleOf":2}}}""", "$.$defs.A.multipleOf")]
    [InlineData("""{"type":"object","properties":{"n":{"not":{"type":"null"}}}}""", "$.properties.n.not.type")]
    public void CallGrammar_UnenforceableParameterSchema_ThrowsNamingTheToolAndThePath(string schema, string path)
    {
        List<AIFunctionDeclaration> tools = [Declaration("get_weather", WeatherSchema), Declaration("bad_tool", schema)];
        foreach (string family in new[] { "hermes", "llama3", "mistral", "generic" })
        {
            var error = Assert.Throws<NotSupportedException>(() => Format(family).CallGrammar(tools, single: false));
            Assert.Contains("'bad_tool'", error.Message, StringComparison.Ordinal);
            Assert.Contains(" " + path + " ", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("get_weather", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void CallGrammar_NoToolsOrDuplicateNames_ThrowsArgumentException()
    {
        var format = Format("hermes");
        Assert.Throws<ArgumentException>(() => format.CallGrammar([], single: true));
        var error = Assert.Throws<ArgumentException>(() => format.CallGrammar([Declaration("a", WeatherSchema), Declaration("a", WeatherSchema)], single: true));
        Assert.Contains("'a'", error.Message, StringComparison.Ordinal);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public Task Stories260K_HermesSingleCall_AlwaysParsesIntoOneValidGetWeatherCall() => AssertGeneratesOneValidCall("hermes", single: true);

    [SharedModelFact("stories260K/stories260K.gguf")]
    public Task Stories260K_Llama3SingleCall_AlwaysParsesIntoOneValidGetWeatherCall() => AssertGeneratesOneValidCall("llama3", single: true);

    [SharedModelFact("stories260K/stories260K.gguf")]
    public Task Stories260K_MistralSingleCall_AlwaysParsesIntoOneValidGetWeatherCall() => AssertGeneratesOneValidCall("mistral", single: true);

    [SharedModelFact("stories260K/stories260K.gguf")]
    public Task Stories260K_GenericParallelGrammarWithOneTool_GivesOnlyValidGetWeatherCalls() => AssertGeneratesOneValidCall("generic", single: false);

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Stories260K_TwoToolsOneRecursive_LlamaCppAcceptsTheComposedGrammarAndTheCallIsValidForItsTool()
    {
        var schemas = new Dictionary<string, JsonElement>
        {
            ["get_weather"] = JsonDocument.Parse(WeatherSchema).RootElement.Clone(),
            ["tree"] = JsonDocument.Parse(TreeSchema).RootElement.Clone(),
        };
        var format = Format("hermes");
        string gbnf = format.CallGrammar([.. schemas.Select(s => Declaration(s.Key, s.Value.GetRawText()))], single: true);
        output.WriteLine(gbnf);
        AssertEveryRuleIsDefined(gbnf);
        using var weights = GrammarSampler.LoadStories();
        for (uint seed = 0; seed <= 3; seed++)
        {
            var (text, pieces) = await GenerateAsync(weights, gbnf, seed);
            output.WriteLine($"seed {seed}, {pieces} pieces: {text}");
            Assert.True(pieces < MaxTokens, $"seed {seed}: the grammar did not complete within {MaxTokens} tokens: {text}");
            var parsed = format.Parse(text);
            Assert.Equal("", parsed.Text);
            var call = Assert.Single(parsed.Calls);
            var schema = schemas[call.Name];
            SchemaCheck.Validate(schema, schema, JsonSerializer.SerializeToElement(call.Arguments, AIJsonUtilities.DefaultOptions), "$");
        }
    }

    private async Task AssertGeneratesOneValidCall(string family, bool single)
    {
        var format = Format(family);
        using var schema = JsonDocument.Parse(WeatherSchema);
        string gbnf = format.CallGrammar([Declaration("get_weather", WeatherSchema)], single);
        output.WriteLine(gbnf);
        AssertEveryRuleIsDefined(gbnf);
        using var weights = GrammarSampler.LoadStories();
        for (uint seed = 0; seed <= 5; seed++)
        {
            var (text, pieces) = await GenerateAsync(weights, gbnf, seed);
            output.WriteLine($"seed {seed}, {pieces} pieces: {text}");
            Assert.True(pieces < MaxTokens, $"seed {seed}: the grammar did not complete within {MaxTokens} tokens: {text}");
            Assert.StartsWith(format.Trigger, text, StringComparison.Ordinal);
            var parsed = format.Parse(text);
            Assert.Equal("", parsed.Text);
            if (single)
            {
                Assert.Single(parsed.Calls);
            }
            else
            {
                Assert.InRange(parsed.Calls.Count, 1, ToolCallGrammar.MaxCalls);
            }

            foreach (var call in parsed.Calls)
            {
                Assert.Equal("get_weather", call.Name);
                var arguments = JsonSerializer.SerializeToElement(call.Arguments, AIJsonUtilities.DefaultOptions);
                SchemaCheck.Validate(schema.RootElement, schema.RootElement, arguments, "$");
            }
        }
    }

    private const string TreeSchema = """{"type":"object","properties":{"root":{"$ref":"#/$defs/Node"}},"required":["root"],"$defs":{"Node":{"type":"object","properties":{"label":{"type":"string","maxLength":8},"children":{"type":"array","items":{"$ref":"#/$defs/Node"},"maxItems":2}},"required":["label"]}}}""";

    private static ToolCallFormat Format(string family) => family switch
    {
        "hermes" => ToolCallFormat.Detect("{% if tools %}<tool_call>{% endif %}", "<s>", "</s>"),
        "llama3" => ToolCallFormat.Detect("<|start_header_id|>ipython", "<s>", "</s>"),
        "mistral" => ToolCallFormat.Detect("[TOOL_CALLS]", "<s>", "</s>"),
        _ => ToolCallFormat.Detect(null, "<s>", "</s>"),
    };

    private static AIFunctionDeclaration Declaration(string name, string? schema) =>
        AIFunctionFactory.CreateDeclaration(name, "a tool", schema is null ? default : JsonDocument.Parse(schema).RootElement.Clone());

    private static Task<(string Text, int Pieces)> GenerateAsync(LLamaWeights weights, string gbnf, uint seed) =>
        GrammarSampler.GenerateAsync(weights, gbnf, seed, MaxTokens, 1_100);

    /// <summary>An independent check (regex, not <see cref="GbnfCheck"/>): llama.cpp aborts the process on an undefined rule.</summary>
    private static void AssertEveryRuleIsDefined(string gbnf)
    {
        var defined = RuleLine().Matches(gbnf).Select(m => m.Groups[1].Value).ToList();
        Assert.Equal(defined.Count, defined.Distinct(StringComparer.Ordinal).Count());
        Assert.Contains("root", defined);
        foreach (var line in gbnf.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var body = Literals().Replace(line[(line.IndexOf(" ::= ", StringComparison.Ordinal) + 5)..], " ");
            foreach (Match word in Identifier().Matches(body))
            {
                Assert.True(defined.Contains(word.Value), $"rule '{word.Value}' is used but not defined in:\n{gbnf}");
            }
        }
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"|\\[(?:[^\\]\\\\]|\\\\.)*\\]|\\{[0-9,]*\\}")]
    private static partial Regex Literals();

    [GeneratedRegex("[A-Za-z0-9-]+")]
    private static partial Regex Identifier();

    [GeneratedRegex("^(\\S+) ::= ", RegexOptions.Multiline)]
    private static partial Regex RuleLine();
}
