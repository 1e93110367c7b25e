using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager.IntegrationTests.Tools;

public sealed class ToolCallFormatParseTests
{
    private static readonly ToolCallFormat Hermes = ToolCallFormat.Detect("{% if tools %}<tool_call>{% endif %}", "<s>", "</s>");
    private static readonly ToolCallFormat Llama3 = ToolCallFormat.Detect("<|start_header_id|>ipython", "<s>", "</s>");
    private static readonly ToolCallFormat Mistral = ToolCallFormat.Detect("[TOOL_CALLS]", "<s>", "</s>");
    private static readonly ToolCallFormat Generic = ToolCallFormat.Detect(null, "<s>", "</s>");

    [Fact]
    public void Parse_HermesSingleCall_GivesTheCallWithAGeneratedIdAndNoText()
    {
        var parsed = Hermes.Parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>");

        Assert.Equal("", parsed.Text);
        var call = Assert.Single(parsed.Calls);
        AssertCall(call, "get_weather", ("city", "Paris"), ("unit", "celsius"));
        Assert.Matches("^call_[0-9a-f]{12}$", call.CallId);
    }

    [Fact]
    public void Parse_HermesParallelCallsWithTextBefore_GivesBothCallsDistinctIdsAndTheText()
    {
        var parsed = Hermes.Parse("Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\", \"unit\": \"celsius\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"timezone\": \"Europe/Zurich\"}}\n</tool_call>");

        Assert.Equal("Let me check.", parsed.Text);
        Assert.Equal(2, parsed.Calls.Count);
        AssertCall(parsed.Calls[0], "get_weather", ("city", "Zürich"), ("unit", "celsius"));
        AssertCall(parsed.Calls[1], "get_time", ("timezone", "Europe/Zurich"));
        Assert.NotEqual(parsed.Calls[0].CallId, parsed.Calls[1].CallId);
    }

    [Fact]
    public void Parse_HermesUnclosedCallAtTheEnd_StillCounts()
    {
        var call = Assert.Single(Hermes.Parse("<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"timezone\": \"UTC\"}}\n").Calls);
        AssertCall(call, "get_time", ("timezone", "UTC"));
    }

    [Theory]
    [InlineData("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Par")]
    [InlineData("<tool_call>\n{\"arguments\": {\"city\": \"Paris\"}}\n</tool_call>")]
    [InlineData("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": [1]}\n</tool_call>")]
    [InlineData("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {}} trailing words\n</tool_call>")]
    [InlineData("no calls at all")]
    public void Parse_HermesMalformed_StaysTextAndDoesNotThrow(string output)
    {
        var parsed = Hermes.Parse(output);

        Assert.Empty(parsed.Calls);
        Assert.Equal(output.Trim(), parsed.Text);
    }

    [Fact]
    public void Parse_HermesArgumentsAsAJsonString_AreReadAsTheObject()
    {
        var call = Assert.Single(Hermes.Parse("<tool_call>{\"name\": \"get_time\", \"arguments\": \"{\\\"timezone\\\": \\\"UTC\\\"}\"}</tool_call>").Calls);
        AssertCall(call, "get_time", ("timezone", "UTC"));
    }

    [Fact]
    public void Parse_Llama3JsonCall_WithAndWithoutPythonTag()
    {
        var plain = Llama3.Parse("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}");
        var tagged = Llama3.Parse("<|python_tag|>{\"name\": \"get_time\", \"parameters\": {\"timezone\": \"UTC\"}}");

        Assert.Equal("", plain.Text);
        AssertCall(Assert.Single(plain.Calls), "get_weather", ("city", "Paris"), ("unit", "celsius"));
        Assert.Equal("", tagged.Text);
        AssertCall(Assert.Single(tagged.Calls), "get_time", ("timezone", "UTC"));
        Assert.StartsWith("call_", plain.Calls[0].CallId, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_Llama3TextThenTwoCallsSeparatedBySemicolon_GivesBoth()
    {
        var parsed = Llama3.Parse("Sure: {\"name\": \"get_weather\", \"parameters\": {\"city\": \"Rome\", \"unit\": \"celsius\"}}; {\"name\": \"get_time\", \"parameters\": {\"timezone\": \"Europe/Rome\"}}");

        Assert.Equal("Sure:", parsed.Text);
        Assert.Equal(2, parsed.Calls.Count);
        AssertCall(parsed.Calls[1], "get_time", ("timezone", "Europe/Rome"));
    }

    [Theory]
    [InlineData("{\"name\": \"get_weather\", \"parameters\": {\"city\": ")]
    [InlineData("A set {1, 2} and {\"name\": \"just a record\"}")]
    public void Parse_Llama3Malformed_StaysText(string output)
    {
        var parsed = Llama3.Parse(output);

        Assert.Empty(parsed.Calls);
        Assert.Equal(output.Trim(), parsed.Text);
    }

    [Fact]
    public void Parse_MistralParallelCalls_KeepTheModelsIds()
    {
        var parsed = Mistral.Parse("[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}, \"id\": \"abc123XYZ\"}, {\"name\": \"get_time\", \"arguments\": {\"timezone\": \"UTC\"}, \"id\": \"def456UVW\"}]");

        Assert.Equal("", parsed.Text);
        Assert.Equal(2, parsed.Calls.Count);
        AssertCall(parsed.Calls[0], "get_weather", ("city", "Paris"), ("unit", "celsius"));
        Assert.Equal("abc123XYZ", parsed.Calls[0].CallId);
        Assert.Equal("def456UVW", parsed.Calls[1].CallId);
    }

    [Fact]
    public void Parse_MistralTextBeforeAndCallWithoutId_GivesTextAndAGeneratedId()
    {
        var parsed = Mistral.Parse("Checking. [TOOL_CALLS][{\"name\": \"get_time\", \"arguments\": {\"timezone\": \"UTC\"}}]");

        Assert.Equal("Checking.", parsed.Text);
        Assert.StartsWith("call_", Assert.Single(parsed.Calls).CallId, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[TOOL_CALLS][{\"name\": \"get_time\", \"arguments\": {\"timezone\": \"UTC\"}}, {\"arguments\": {}}]")]
    [InlineData("[TOOL_CALLS][{\"name\": \"get_time\", \"argu")]
    [InlineData("[TOOL_CALLS] sorry")]
    public void Parse_MistralMalformed_StaysText(string output)
    {
        var parsed = Mistral.Parse(output);

        Assert.Empty(parsed.Calls);
        Assert.Equal(output, parsed.Text);
    }

    [Fact]
    public void Parse_DeeplyNestedOrBrokenJson_StaysTextInEveryFormat()
    {
        string deep = new string('[', 5_000) + new string(']', 5_000);
        string[] outputs =
        [
            "<tool_call>" + deep + "</tool_call>",
            "[TOOL_CALLS]" + deep,
            "{\"name\": \"x\", \"parameters\": " + new string('{', 200) + "}",
            "<tool_call>{\"name\": \"x\", \"arguments\": {\"a\": \"\ud800\"}}</tool_call>"[..^13] + "\u0000",
        ];
        foreach (var format in new[] { Hermes, Llama3, Mistral, Generic })
        {
            foreach (string output in outputs)
            {
                var parsed = format.Parse(output);
                Assert.Empty(parsed.Calls);
                Assert.Equal(output.Trim(), parsed.Text);
            }
        }
    }

    [Fact]
    public void Parse_Generic_ReadsTheSyntaxItsInstructionsTeach()
    {
        var parsed = Generic.Parse("ok\n<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"timezone\": \"UTC\"}}\n</tool_call>");

        Assert.Equal("ok", parsed.Text);
        AssertCall(Assert.Single(parsed.Calls), "get_time", ("timezone", "UTC"));
    }

    [Fact]
    public void Parse_RenderedHistory_RoundTripsThroughEachFormat()
    {
        // What each format renders for an assistant call is what its parser reads.
        var parsedHermes = Hermes.Parse("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>");
        var parsedMistral = Mistral.Parse("[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}, \"id\": \"call00001\"}]");
        var parsedLlama = Llama3.Parse("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}");

        foreach (var parsed in new[] { parsedHermes, parsedMistral, parsedLlama })
        {
            AssertCall(Assert.Single(parsed.Calls), "get_weather", ("city", "Paris"), ("unit", "celsius"));
        }
    }

    private static void AssertCall(FunctionCallContent call, string name, params (string Key, string Value)[] arguments)
    {
        Assert.Equal(name, call.Name);
        Assert.NotNull(call.Arguments);
        Assert.Equal(arguments.Length, call.Arguments.Count);
        foreach (var (key, value) in arguments)
        {
            var element = Assert.IsType<JsonElement>(call.Arguments[key]);
            Assert.Equal(value, element.GetString());
        }
    }
}
