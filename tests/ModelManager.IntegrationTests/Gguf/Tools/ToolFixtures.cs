using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager.IntegrationTests.Tools;

/// <summary>The tool-format fixtures: conversations.json as <see cref="ChatMessage"/>s and tools, the chat templates and the reference renderings.</summary>
internal static class ToolFixtures
{
    /// <summary>The reference renderings' templates, with the family each must be detected as and the SHA-256 of the file the references came from.</summary>
    public static readonly (string Template, string Family, string Sha256)[] Templates =
    [
        ("Qwen-Qwen2.5-7B-Instruct", "hermes", "cd8e9439f0570856fd70470bf8889ebd8b5d1107207f67a5efb46e342330527f"),
        ("meta-llama-Llama-3.2-3B-Instruct", "llama3", "5816fce10444e03c2e9ee1ef8a4a1ea61ae7e69e438613f3b17b69d0426223a4"),
        ("mistralai-Mistral-Nemo-Instruct-2407", "mistral", "e4676cb56dffea7782fd3e2b577cfaf1e123537e6ef49b3ec7caa6c095c62272"),
    ];

    /// <summary>The fixtures folder in the test output.</summary>
    public static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "Gguf", "Tools", "Fixtures");

    private static readonly Lazy<JsonDocument> Spec = new(() => JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "conversations.json"))));

    /// <summary>The BOS token text the references were rendered with.</summary>
    public static string Bos => Spec.Value.RootElement.GetProperty("bos_token").GetString()!;

    /// <summary>The EOS token text the references were rendered with.</summary>
    public static string Eos => Spec.Value.RootElement.GetProperty("eos_token").GetString()!;

    /// <summary>The names of the conversations.</summary>
    public static IEnumerable<string> ConversationNames =>
        Spec.Value.RootElement.GetProperty("conversations").EnumerateArray().Select(c => c.GetProperty("name").GetString()!);

    /// <summary>Whether every template of <see cref="Templates"/> is present (they are not committed).</summary>
    public static bool TemplatesPresent => Templates.All(t => File.Exists(TemplatePath(t.Template)));

    /// <summary>The path of a template.</summary>
    public static string TemplatePath(string template) => Path.Combine(Directory, template + ".jinja");

    /// <summary>The reference rendering of a conversation with a template ("!error: …" when the template raises).</summary>
    public static string Expected(string template, string conversation) =>
        File.ReadAllText(Path.Combine(Directory, "expected", template + "." + conversation + ".txt"));

    /// <summary>The tools of the fixtures, as declarations with the fixture's parameter schemas.</summary>
    public static List<AIFunctionDeclaration> Tools() =>
    [
        .. Spec.Value.RootElement.GetProperty("tools").EnumerateArray().Select(t => AIFunctionFactory.CreateDeclaration(
            t.GetProperty("name").GetString()!, t.GetProperty("description").GetString(), t.GetProperty("parameters").Clone())),
    ];

    /// <summary>A conversation's messages and whether it offers the tools.</summary>
    public static (List<ChatMessage> Messages, bool OffersTools) Conversation(string name)
    {
        var conversation = Spec.Value.RootElement.GetProperty("conversations").EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);
        var messages = new List<ChatMessage>();
        foreach (var m in conversation.GetProperty("messages").EnumerateArray())
        {
            string role = m.GetProperty("role").GetString()!;
            if (m.TryGetProperty("calls", out var calls))
            {
                var contents = new List<AIContent>();
                if (m.TryGetProperty("text", out var text))
                {
                    contents.Add(new TextContent(text.GetString()));
                }

                foreach (var call in calls.EnumerateArray())
                {
                    var arguments = call.GetProperty("arguments").EnumerateObject().ToDictionary(p => p.Name, p => (object?)p.Value.Clone());
                    contents.Add(new FunctionCallContent(call.GetProperty("id").GetString()!, call.GetProperty("name").GetString()!, arguments));
                }

                messages.Add(new ChatMessage(ChatRole.Assistant, contents));
            }
            else if (role == "tool")
            {
                messages.Add(new ChatMessage(ChatRole.Tool, [new FunctionResultContent(m.GetProperty("callId").GetString()!, m.GetProperty("result").GetString())]));
            }
            else
            {
                messages.Add(new ChatMessage(new ChatRole(role), m.GetProperty("text").GetString()));
            }
        }

        return (messages, conversation.GetProperty("tools").GetBoolean());
    }
}
