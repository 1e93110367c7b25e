using System.Globalization;
using System.Text;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>Llama 3.1/3.2/3.3 JSON tool calls: tools as indented JSON in the first user turn, a call as <c>{"name": …, "parameters": …}</c>, results as <c>ipython</c> turns.</summary>
internal sealed class Llama3ToolCallFormat : ToolCallFormat
{
    private const string PythonTag = "<|python_tag|>";
    private static readonly string[] ArgumentKeys = ["parameters", "arguments"];
    private readonly string _bos;
    private readonly TimeProvider _time;
    private readonly string? _fixedDate;

    /// <summary>Creates the format with the model's BOS token text and the clock for the template's "Today Date".</summary>
    /// <param name="bosToken">The model's BOS token text.</param>
    /// <param name="timeProvider">The clock for templates that call <c>strftime_now</c> (3.2).</param>
    /// <param name="fixedDate">The date a template without <c>strftime_now</c> writes (3.1 and 3.3: "26 Jul 2024"), or null to use the clock.</param>
    public Llama3ToolCallFormat(string bosToken, TimeProvider timeProvider, string? fixedDate = null)
    {
        _bos = bosToken;
        _time = timeProvider;
        _fixedDate = fixedDate;
    }

    /// <inheritdoc />
    public override string Name => "llama3";

    /// <inheritdoc />
    public override string Trigger => "{\"name\"";

    /// <inheritdoc />
    public override string Render(IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools, Func<IReadOnlyList<ChatMessage>, string> renderPlain)
    {
        ArgumentNullException.ThrowIfNull(tools);
        var turns = ToolTurn.From(messages);
        int next = 0;
        string system = "";
        if (turns.Count > 0 && turns[0].Role == "system")
        {
            system = turns[0].Text.Trim();
            next = 1;
        }

        var sb = new StringBuilder(_bos).Append("<|start_header_id|>system<|end_header_id|>\n\n");
        if (tools.Count > 0)
        {
            sb.Append("Environment: ipython\n");
        }

        sb.Append("Cutting Knowledge Date: December 2023\n")
            .Append("Today Date: ").Append(_fixedDate ?? _time.GetLocalNow().ToString("dd MMM yyyy", CultureInfo.InvariantCulture)).Append("\n\n")
            .Append(system).Append("<|eot_id|>");
        if (tools.Count > 0)
        {
            // The template puts the tools into the first message after the system one, whatever its role.
            if (next >= turns.Count)
            {
                throw new ArgumentException("Cannot put tools in the first user message when there's no first user message!", nameof(messages));
            }

            sb.Append("<|start_header_id|>user<|end_header_id|>\n\n")
                .Append("Given the following functions, please respond with a JSON for a function call ")
                .Append("with its proper arguments that best answers the given prompt.\n\n")
                .Append("Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.")
                .Append("Do not use variables.\n\n");
            foreach (var tool in tools)
            {
                sb.Append(PythonJson.Dumps(ToolTurn.ToolJson(tool), indent: 4)).Append("\n\n");
            }

            sb.Append(turns[next].Text.Trim()).Append("<|eot_id|>");
            next++;
        }

        for (int i = next; i < turns.Count; i++)
        {
            var turn = turns[i];
            if (turn.Role is "tool" or "ipython")
            {
                // A string is iterable to Jinja, so the template writes the result as a JSON string.
                sb.Append("<|start_header_id|>ipython<|end_header_id|>\n\n").Append(PythonJson.String(turn.Text)).Append("<|eot_id|>");
            }
            else if (turn.HasCalls)
            {
                if (turn.Calls.Count != 1)
                {
                    throw new NotSupportedException("This model only supports single tool-calls at once!");
                }

                var call = turn.Calls[0];
                sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"").Append(call.Name).Append("\", \"parameters\": ")
                    .Append(PythonJson.Dumps(ToolTurn.Arguments(call))).Append('}').Append("<|eot_id|>");
            }
            else
            {
                sb.Append("<|start_header_id|>").Append(turn.Role).Append("<|end_header_id|>\n\n").Append(turn.Text.Trim()).Append("<|eot_id|>");
            }
        }

        return sb.Append("<|start_header_id|>assistant<|end_header_id|>\n\n").ToString();
    }

    /// <inheritdoc />
    public override string CallGrammar(IReadOnlyList<AIFunctionDeclaration> tools, bool single) =>
        ToolCallGrammar.Build(tools, "parameters", single, "", "", "\n");

    /// <inheritdoc />
    public override ParsedToolOutput Parse(string output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var text = new StringBuilder();
        var calls = new List<FunctionCallContent>();
        int position = 0;
        int search = 0;
        while (search < output.Length)
        {
            int brace = output.IndexOf('{', search);
            if (brace < 0)
            {
                break;
            }

            if (ToolCallText.TryReadJson(output, brace, out var value, out int end) && ToolCallText.TryCall(value, ArgumentKeys, out var call)
                && (value.TryGetProperty("parameters", out _) || value.TryGetProperty("arguments", out _)))
            {
                int textEnd = brace;
                string before = output[position..brace].TrimEnd();
                if (before.EndsWith(PythonTag, StringComparison.Ordinal))
                {
                    textEnd = position + before.Length - PythonTag.Length;
                }

                text.Append(output, position, textEnd - position);
                calls.Add(call);
                position = end;
                while (position < output.Length && (char.IsWhiteSpace(output[position]) || output[position] == ';'))
                {
                    position++;
                }

                search = position;
                continue;
            }

            search = brace + 1;
        }

        text.Append(output, position, output.Length - position);
        return new ParsedToolOutput(text.ToString().Trim(), calls);
    }
}
