using System.Text;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>Tool calls for models whose template knows none: the tools and the call syntax are explained in the system message, and calls, results and text go through the model's plain rendering.</summary>
internal sealed class GenericToolCallFormat : ToolCallFormat
{
    private const string Open = "<tool_call>";
    private const string Close = "</tool_call>";
    private static readonly string[] ArgumentKeys = ["arguments", "parameters"];

    /// <summary>The format's <see cref="Name"/>: the one models without a tool template get.</summary>
    public const string FormatName = "generic";

    /// <inheritdoc />
    public override string Name => FormatName;

    /// <inheritdoc />
    public override string Trigger => Open;

    /// <summary>The system text that offers <paramref name="tools"/> and teaches the call syntax.</summary>
    public static string Instructions(IReadOnlyList<AIFunctionDeclaration> tools)
    {
        ArgumentNullException.ThrowIfNull(tools);
        var sb = new StringBuilder("You can call these tools, described as JSON:\n");
        foreach (var tool in tools)
        {
            sb.Append(PythonJson.Dumps(ToolTurn.ToolJson(tool, wrapped: false))).Append('\n');
        }

        sb.Append("\nTo call a tool, reply with only:\n").Append(Open).Append('\n')
            .Append("{\"name\": \"<tool name>\", \"arguments\": <the arguments as a JSON object>}\n").Append(Close).Append('\n')
            .Append("To call several tools, write one such block per call. Each result comes back in a message that starts with \"Tool result\".");
        return sb.ToString();
    }

    /// <inheritdoc />
    public override string Render(IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools, Func<IReadOnlyList<ChatMessage>, string> renderPlain)
    {
        ArgumentNullException.ThrowIfNull(messages);
        ArgumentNullException.ThrowIfNull(tools);
        ArgumentNullException.ThrowIfNull(renderPlain);
        var rewritten = new List<ChatMessage>(messages.Count + 1);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            var calls = message.Contents.OfType<FunctionCallContent>().ToList();
            var results = message.Contents.OfType<FunctionResultContent>().ToList();
            if (results.Count > 0)
            {
                var text = new StringBuilder();
                foreach (var result in results)
                {
                    string name = result.CallId is not null && names.TryGetValue(result.CallId, out var known) ? known : "a tool";
                    if (text.Length > 0)
                    {
                        text.Append("\n\n");
                    }

                    text.Append("Tool result (").Append(name).Append(", call ").Append(result.CallId).Append("):\n").Append(ToolTurn.ResultText(result.Result));
                }

                rewritten.Add(new ChatMessage(ChatRole.User, text.ToString()));
            }
            else if (calls.Count > 0)
            {
                var text = new StringBuilder(message.Text ?? "");
                foreach (var call in calls)
                {
                    if (call.CallId is not null)
                    {
                        names[call.CallId] = call.Name;
                    }

                    if (text.Length > 0)
                    {
                        text.Append('\n');
                    }

                    text.Append(Open).Append("\n{\"name\": ").Append(PythonJson.String(call.Name)).Append(", \"arguments\": ")
                        .Append(PythonJson.Dumps(ToolTurn.Arguments(call))).Append("}\n").Append(Close);
                }

                rewritten.Add(new ChatMessage(ChatRole.Assistant, text.ToString()));
            }
            else if (i == 0 && message.Role == ChatRole.System && tools.Count > 0)
            {
                rewritten.Add(new ChatMessage(ChatRole.System, (message.Text ?? "") + "\n\n" + Instructions(tools)));
            }
            else
            {
                rewritten.Add(new ChatMessage(message.Role, message.Text ?? ""));
            }
        }

        if (tools.Count > 0 && (messages.Count == 0 || messages[0].Role != ChatRole.System))
        {
            rewritten.Insert(0, new ChatMessage(ChatRole.System, Instructions(tools)));
        }

        return renderPlain(rewritten);
    }

    /// <inheritdoc />
    public override string CallGrammar(IReadOnlyList<AIFunctionDeclaration> tools, bool single) =>
        ToolCallGrammar.Build(tools, "arguments", single, Open + "\n", "\n" + Close, "\n");

    /// <inheritdoc />
    public override ParsedToolOutput Parse(string output) => ToolCallText.ParseTagged(output, Open, Close, ArgumentKeys);
}
