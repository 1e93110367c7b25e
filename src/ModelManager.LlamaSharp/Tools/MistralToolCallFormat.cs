using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>Mistral tool calls: <c>[AVAILABLE_TOOLS]</c> before the last user turn, calls as a <c>[TOOL_CALLS]</c> JSON array with 9-character ids, results as <c>[TOOL_RESULTS]</c> (rendered as Mistral-Nemo-Instruct-2407's template does).</summary>
internal sealed class MistralToolCallFormat : ToolCallFormat
{
    private const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private static readonly string[] ArgumentKeys = ["arguments", "parameters"];
    private readonly string _bos;
    private readonly string _eos;

    /// <summary>Creates the format with the model's BOS and EOS token texts.</summary>
    public MistralToolCallFormat(string bosToken, string eosToken)
    {
        _bos = bosToken;
        _eos = eosToken;
    }

    /// <inheritdoc />
    public override string Name => "mistral";

    /// <inheritdoc />
    public override string Trigger => "[TOOL_CALLS]";

    /// <summary>The id the template gets for <paramref name="callId"/>: itself when it is 9 letters and digits (Mistral's ids), else 9 derived from it, so a call and its result still match.</summary>
    public static string TemplateId(string? callId)
    {
        callId ??= "";
        if (callId.Length == 9 && callId.All(char.IsAsciiLetterOrDigit))
        {
            return callId;
        }

        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(callId));
        var id = new StringBuilder(9);
        for (int i = 0; i < 9; i++)
        {
            id.Append(Alphabet[hash[i] % Alphabet.Length]);
        }

        return id.ToString();
    }

    /// <inheritdoc />
    public override string Render(IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools, Func<IReadOnlyList<ChatMessage>, string> renderPlain)
    {
        ArgumentNullException.ThrowIfNull(tools);
        var turns = ToolTurn.From(messages);
        string? system = null;
        if (turns.Count > 0 && turns[0].Role == "system")
        {
            system = turns[0].Text;
            turns.RemoveAt(0);
        }

        int index = 0;
        string? lastUser = null;
        foreach (var turn in turns)
        {
            if (turn.Role == "user")
            {
                lastUser = turn.Text;
            }

            if (turn.Role is not ("tool" or "tool_results") && !turn.HasCalls)
            {
                if ((turn.Role == "user") != (index % 2 == 0))
                {
                    throw new ArgumentException("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...", nameof(messages));
                }

                index++;
            }
        }

        var sb = new StringBuilder(_bos);
        for (int i = 0; i < turns.Count; i++)
        {
            var turn = turns[i];
            if (turn.Role == "user")
            {
                // The template compares message dicts: every user turn equal to the last one gets the tools.
                if (tools.Count > 0 && string.Equals(turn.Text, lastUser, StringComparison.Ordinal))
                {
                    AppendTools(sb, tools);
                }

                sb.Append("[INST]");
                if (i == turns.Count - 1 && system is not null)
                {
                    sb.Append(system).Append("\n\n");
                }

                sb.Append(turn.Text).Append("[/INST]");
            }
            else if (turn.HasCalls)
            {
                sb.Append("[TOOL_CALLS][");
                for (int c = 0; c < turn.Calls.Count; c++)
                {
                    var call = turn.Calls[c];
                    string function = PythonJson.Dumps(Function(call));
                    sb.Append(function, 0, function.Length - 1).Append(", \"id\": \"").Append(TemplateId(call.CallId)).Append("\"}");
                    sb.Append(c < turn.Calls.Count - 1 ? ", " : "]" + _eos);
                }
            }
            else if (turn.Role == "assistant")
            {
                sb.Append(turn.Text).Append(_eos);
            }
            else if (turn.Role is "tool" or "tool_results")
            {
                sb.Append("[TOOL_RESULTS]{\"content\": ").Append(turn.Text).Append(", \"call_id\": \"").Append(TemplateId(turn.CallId)).Append("\"}[/TOOL_RESULTS]");
            }
            else
            {
                throw new ArgumentException("Only user and assistant roles are supported, with the exception of an initial optional system message!", nameof(messages));
            }
        }

        return sb.ToString();
    }

    /// <inheritdoc />
    public override string CallGrammar(IReadOnlyList<AIFunctionDeclaration> tools, bool single) =>
        ToolCallGrammar.Build(tools, "arguments", single, "", "", ", ", "[TOOL_CALLS][", "]", """( ", \"id\": \"" [a-zA-Z0-9]{9} "\"" )?""");

    /// <inheritdoc />
    public override ParsedToolOutput Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var text = new StringBuilder();
        var calls = new List<FunctionCallContent>();
        int position = 0;
        while (position < output.Length)
        {
            int tag = output.IndexOf(Trigger, position, StringComparison.Ordinal);
            if (tag < 0)
            {
                break;
            }

            int after = tag + Trigger.Length;
            if (ToolCallText.TryReadJson(output, after, out var value, out int end) && TryCalls(value, out var found))
            {
                text.Append(output, position, tag - position);
                calls.AddRange(found);
                position = end;
                continue;
            }

            text.Append(output, position, after - position);
            position = after;
        }

        text.Append(output, position, output.Length - position);
        return new ParsedToolOutput(text.ToString().Trim(), calls);
    }

    private static bool TryCalls(JsonElement value, out List<FunctionCallContent> calls)
    {
        calls = [];
        if (value.ValueKind == JsonValueKind.Object)
        {
            if (!ToolCallText.TryCall(value, ArgumentKeys, out var one))
            {
                return false;
            }

            calls.Add(one);
            return true;
        }

        foreach (var item in value.EnumerateArray())
        {
            if (!ToolCallText.TryCall(item, ArgumentKeys, out var call))
            {
                return false;
            }

            calls.Add(call);
        }

        return calls.Count > 0;
    }

    private static void AppendTools(StringBuilder sb, IReadOnlyList<AIFunctionDeclaration> tools)
    {
        sb.Append("[AVAILABLE_TOOLS][");
        for (int t = 0; t < tools.Count; t++)
        {
            sb.Append("{\"type\": \"function\", \"function\": {");
            bool first = true;
            foreach (var property in ToolTurn.ToolJson(tools[t], wrapped: false).EnumerateObject())
            {
                if (!first)
                {
                    sb.Append(", ");
                }

                // Strings go in raw, unescaped, as the template concatenates them.
                sb.Append('"').Append(property.Name).Append("\": ");
                if (property.Value.ValueKind == JsonValueKind.String)
                {
                    sb.Append('"').Append(property.Value.GetString()).Append('"');
                }
                else
                {
                    sb.Append(PythonJson.Dumps(property.Value));
                }

                first = false;
            }

            sb.Append("}}").Append(t < tools.Count - 1 ? ", " : "]");
        }

        sb.Append("[/AVAILABLE_TOOLS]");
    }

    private static JsonElement Function(FunctionCallContent call)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WriteString("name", call.Name);
            writer.WritePropertyName("arguments");
            ToolTurn.Arguments(call).WriteTo(writer);
            writer.WriteEndObject();
        }

        using var document = JsonDocument.Parse(stream.ToArray());
        return document.RootElement.Clone();
    }
}
