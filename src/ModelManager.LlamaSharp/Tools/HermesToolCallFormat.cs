using System.Text;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>Hermes/Qwen tool calls: tools as JSON lines in <c>&lt;tools&gt;</c> in the system turn, calls as <c>&lt;tool_call&gt;</c> JSON, results as <c>&lt;tool_response&gt;</c> (rendered as Qwen2.5's template does).</summary>
internal sealed class HermesToolCallFormat : ToolCallFormat
{
    private static readonly string[] ArgumentKeys = ["arguments", "parameters"];
    private readonly string? _defaultSystem;

    /// <summary>Creates the format; <paramref name="defaultSystem"/> is the system prompt the template writes when the conversation has none (Qwen's), or null.</summary>
    public HermesToolCallFormat(string? defaultSystem) => _defaultSystem = defaultSystem;

    /// <inheritdoc />
    public override string Name => "hermes";

    /// <inheritdoc />
    public override string Trigger => "<tool_call>";

    /// <inheritdoc />
    public override string Render(IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools, Func<IReadOnlyList<ChatMessage>, string> renderPlain)
    {
        ArgumentNullException.ThrowIfNull(tools);
        var turns = ToolTurn.From(messages);
        bool firstIsSystem = turns.Count > 0 && turns[0].Role == "system";
        var sb = new StringBuilder();
        if (tools.Count > 0)
        {
            sb.Append("<|im_start|>system\n").Append(firstIsSystem ? turns[0].Text : _defaultSystem ?? "");
            sb.Append("\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>");
            foreach (var tool in tools)
            {
                sb.Append('\n').Append(PythonJson.Dumps(ToolTurn.ToolJson(tool)));
            }

            sb.Append("\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n");
        }
        else if (firstIsSystem)
        {
            sb.Append("<|im_start|>system\n").Append(turns[0].Text).Append("<|im_end|>\n");
        }
        else if (_defaultSystem is not null)
        {
            sb.Append("<|im_start|>system\n").Append(_defaultSystem).Append("<|im_end|>\n");
        }

        for (int i = 0; i < turns.Count; i++)
        {
            var turn = turns[i];
            if (turn.Role == "user" || (turn.Role == "system" && i > 0) || (turn.Role == "assistant" && !turn.HasCalls))
            {
                sb.Append("<|im_start|>").Append(turn.Role).Append('\n').Append(turn.Text).Append("<|im_end|>\n");
            }
            else if (turn.Role == "assistant")
            {
                sb.Append("<|im_start|>assistant");
                if (turn.Text.Length > 0)
                {
                    sb.Append('\n').Append(turn.Text);
                }

                foreach (var call in turn.Calls)
                {
                    sb.Append("\n<tool_call>\n{\"name\": \"").Append(call.Name).Append("\", \"arguments\": ")
                        .Append(PythonJson.Dumps(ToolTurn.Arguments(call))).Append("}\n</tool_call>");
                }

                sb.Append("<|im_end|>\n");
            }
            else if (turn.Role == "tool")
            {
                if (i == 0 || turns[i - 1].Role != "tool")
                {
                    sb.Append("<|im_start|>user");
                }

                sb.Append("\n<tool_response>\n").Append(turn.Text).Append("\n</tool_response>");
                if (i == turns.Count - 1 || turns[i + 1].Role != "tool")
                {
                    sb.Append("<|im_end|>\n");
                }
            }
        }

        return sb.Append("<|im_start|>assistant\n").ToString();
    }

    /// <inheritdoc />
    public override string CallGrammar(IReadOnlyList<AIFunctionDeclaration> tools, bool single) =>
        ToolCallGrammar.Build(tools, "arguments", single, "<tool_call>\n", "\n</tool_call>", "\n");

    /// <inheritdoc />
    public override ParsedToolOutput Parse(string output) => ToolCallText.ParseTagged(output, "<tool_call>", "</tool_call>", ArgumentKeys);
}
