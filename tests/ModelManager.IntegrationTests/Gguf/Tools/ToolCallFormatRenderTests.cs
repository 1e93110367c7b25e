using System.Security.Cryptography;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Time.Testing;

namespace ModelManager.IntegrationTests.Tools;

public sealed class ToolCallFormatRenderTests
{
    private const string ErrorPrefix = "!error: ";

    // The references fix strftime_now to this date (conversations.json "date").
    private static readonly FakeTimeProvider Clock = new(new DateTimeOffset(2026, 12, 1, 9, 30, 0, TimeSpan.Zero));

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var (template, family, _) in ToolFixtures.Templates)
        {
            foreach (string conversation in ToolFixtures.ConversationNames)
            {
                data.Add(template, family, conversation);
            }
        }

        return data;
    }

    [ChatTemplateTheory]
    [MemberData(nameof(Cases))]
    public void Render_RealTemplateFromGguf_MatchesTheJinjaReferenceByteForByte(string template, string family, string conversation)
    {
        // The template goes through a GGUF file and our reader, the path the backend takes.
        string text = File.ReadAllText(ToolFixtures.TemplatePath(template));
        string sha256 = ToolFixtures.Templates.Single(t => t.Template == template).Sha256;
        Assert.Equal(sha256, Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(ToolFixtures.TemplatePath(template)))));
        string path = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 300_000, Seed = 7, ChatTemplate = text, Name = template });
        string? read = GgufReader.Read(path).ChatTemplate;
        Assert.Equal(text, read);

        var format = ToolCallFormat.Detect(read, ToolFixtures.Bos, ToolFixtures.Eos, Clock);
        Assert.Equal(family, format.Name);

        var (messages, offersTools) = ToolFixtures.Conversation(conversation);
        IReadOnlyList<AIFunctionDeclaration> tools = offersTools ? ToolFixtures.Tools() : [];
        string expected = ToolFixtures.Expected(template, conversation);
        if (expected.StartsWith(ErrorPrefix, StringComparison.Ordinal))
        {
            var error = Assert.ThrowsAny<Exception>(() => format.Render(messages, tools, NoPlainRendering));
            Assert.True(error is ArgumentException or NotSupportedException, error.GetType().Name);
            Assert.Equal(expected[ErrorPrefix.Length..], error.Message.Split(" (Parameter")[0]);
        }
        else
        {
            Assert.Equal(expected, format.Render(messages, tools, NoPlainRendering));
        }
    }

    [Theory]
    [InlineData(null, "generic")]
    [InlineData("", "generic")]
    [InlineData("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}", "generic")]
    [InlineData("{{ bos_token }}{% for m in messages %}[INST]{{ m.content }}[/INST]{% endfor %}{% if tools %}[AVAILABLE_TOOLS]{% endif %}", "mistral")]
    [InlineData("{% if tools %}<tools>{% endif %}<tool_call>{% for m in messages %}{{ m.content }}{% endfor %}", "hermes")]
    [InlineData("<|start_header_id|>ipython<|end_header_id|>{{ m }}", "llama3")]
    [InlineData("<|start_header_id|>user<|end_header_id|>{{ m }}", "generic")]
    public void Detect_TemplateText_PicksTheFamily(string? template, string family) =>
        Assert.Equal(family, ToolCallFormat.Detect(template, "<s>", "</s>").Name);

    [Theory]
    [InlineData("{%- set date_string = \"26 Jul 2024\" %}<|start_header_id|><|python_tag|>", "26 Jul 2024")]
    [InlineData("{%- set date_string = strftime_now(\"%d %b %Y\") %}<|start_header_id|>ipython", "01 Dec 2026")]
    public void Render_Llama3_WritesTheTemplatesFixedDateOrTodaysWhenItAsksForIt(string template, string date)
    {
        var format = ToolCallFormat.Detect(template, "<s>", "</s>", Clock);

        string prompt = format.Render([new(ChatRole.User, "hi")], [], NoPlainRendering);

        Assert.Equal("llama3", format.Name);
        Assert.Equal($"<s><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: {date}\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", prompt);
    }

    [Fact]
    public void Render_Generic_DescribesTheToolsInAMergedSystemMessageAndRewritesCallsAndResultsAsText()
    {
        var format = ToolCallFormat.Detect(null, "<s>", "</s>");
        var (messages, _) = ToolFixtures.Conversation("full_round");
        IReadOnlyList<ChatMessage>? seen = null;

        string prompt = format.Render(messages, ToolFixtures.Tools(), m => { seen = m; return "plain:" + string.Join("|", m.Select(x => x.Role.Value + "=" + x.Text)); });

        Assert.NotNull(seen);
        Assert.Equal(4, seen.Count);
        Assert.All(seen, m => Assert.All(m.Contents, c => Assert.IsType<TextContent>(c)));
        Assert.Equal(ChatRole.System, seen[0].Role);
        Assert.StartsWith("You are a terse assistant.\n\n", seen[0].Text, StringComparison.Ordinal);
        Assert.Contains("\"name\": \"get_weather\"", seen[0].Text, StringComparison.Ordinal);
        Assert.Contains("\"name\": \"get_time\"", seen[0].Text, StringComparison.Ordinal);
        Assert.Contains("<tool_call>", seen[0].Text, StringComparison.Ordinal);
        Assert.Equal(ChatRole.Assistant, seen[2].Role);
        var reparsed = format.Parse(seen[2].Text);
        var call = Assert.Single(reparsed.Calls);
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", call.Arguments!["city"]!.ToString());
        Assert.Equal(ChatRole.User, seen[3].Role);
        Assert.Equal("Tool result (get_weather, call call00001):\n{\"temperature\": 21, \"sky\": \"clear\"}", seen[3].Text);
        Assert.StartsWith("plain:system=", prompt, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_GenericWithoutSystemMessage_PrependsOne_AndWithoutToolsAddsNone()
    {
        var format = ToolCallFormat.Detect(null, "<s>", "</s>");
        var (messages, _) = ToolFixtures.Conversation("history_without_tools");
        List<ChatMessage> seen = [];

        format.Render(messages, ToolFixtures.Tools(), m => { seen = [.. m]; return ""; });
        Assert.Equal(messages.Count + 1, seen.Count);
        Assert.Equal(ChatRole.System, seen[0].Role);
        Assert.StartsWith("You can call these tools", seen[0].Text, StringComparison.Ordinal);

        format.Render(messages, [], m => { seen = [.. m]; return ""; });
        Assert.Equal(messages.Count, seen.Count);
        Assert.Equal(ChatRole.User, seen[0].Role);
        Assert.Contains("<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n</tool_call>", seen[1].Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Render_MistralWithCallIdsThatAreNotNineCharacters_GivesCallAndResultTheSameDerivedId()
    {
        var format = ToolCallFormat.Detect("[TOOL_CALLS]", "<s>", "</s>");
        List<ChatMessage> messages =
        [
            new(ChatRole.User, "hi"),
            new(ChatRole.Assistant, [new FunctionCallContent("call_0123456789ab", "get_weather", new Dictionary<string, object?> { ["city"] = "Oslo" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call_0123456789ab", "cold")]),
        ];

        string prompt = format.Render(messages, [], NoPlainRendering);

        string id = MistralToolCallFormat.TemplateId("call_0123456789ab");
        Assert.Equal(9, id.Length);
        Assert.All(id, c => Assert.True(char.IsAsciiLetterOrDigit(c)));
        Assert.Equal($"<s>[INST]hi[/INST][TOOL_CALLS][{{\"name\": \"get_weather\", \"arguments\": {{\"city\": \"Oslo\"}}, \"id\": \"{id}\"}}]</s>[TOOL_RESULTS]{{\"content\": cold, \"call_id\": \"{id}\"}}[/TOOL_RESULTS]", prompt);
    }

    [Fact]
    public void Render_MistralWithRolesThatDoNotAlternate_ThrowsTheTemplatesError()
    {
        var format = ToolCallFormat.Detect("[TOOL_CALLS]", "<s>", "</s>");
        var error = Assert.Throws<ArgumentException>(() => format.Render([new(ChatRole.User, "a"), new(ChatRole.User, "b")], [], NoPlainRendering));
        Assert.StartsWith("After the optional system message, conversation roles must alternate", error.Message, StringComparison.Ordinal);
    }

    private static string NoPlainRendering(IReadOnlyList<ChatMessage> messages) =>
        throw new InvalidOperationException("A template-specific format must not fall back to the plain rendering.");
}
