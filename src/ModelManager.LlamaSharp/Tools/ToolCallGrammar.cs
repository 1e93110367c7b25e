using System.Globalization;
using System.Text;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>Builds the GBNF grammar of tool calls: each call an object naming one tool, with arguments valid under that tool's parameters schema.</summary>
internal static class ToolCallGrammar
{
    /// <summary>The most calls a parallel grammar accepts (8), so that generation ends.</summary>
    public const int MaxCalls = 8;

    /// <summary>The grammar: <paramref name="listOpen"/>, calls each wrapped in <paramref name="open"/> and <paramref name="close"/> and separated by <paramref name="separator"/>, <paramref name="listClose"/>.</summary>
    /// <exception cref="ArgumentException">No tools, a tool without a name, two tools of the same name, or a malformed parameters schema (named).</exception>
    /// <exception cref="NotSupportedException">A tool's parameters schema cannot be enforced (the message names the tool and the JSON path), or the grammar exceeds a cap.</exception>
    public static string Build(IReadOnlyList<AIFunctionDeclaration> tools, string argumentsKey, bool single, string open, string close, string separator,
        string listOpen = "", string listClose = "", string callSuffix = "")
    {
        // A call is written exactly as the templates render one in the history, {"name": "N", "key": ARGS}, so the model
        // sees one shape; only the arguments' own layout is free. callSuffix (GBNF, e.g. an optional id) goes before the closing brace.
        ArgumentNullException.ThrowIfNull(tools);
        if (tools.Count == 0)
        {
            throw new ArgumentException("A tool-call grammar needs at least one tool.", nameof(tools));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var calls = new StringBuilder("tc-call ::= ");
        var rules = new StringBuilder();
        for (int i = 0; i < tools.Count; i++)
        {
            var tool = tools[i];
            if (string.IsNullOrEmpty(tool?.Name))
            {
                throw new ArgumentException("Every tool needs a name.", nameof(tools));
            }

            if (!names.Add(tool.Name))
            {
                throw new ArgumentException($"Two tools are named '{tool.Name}'.", nameof(tools));
            }

            string prefix = "t" + i.ToString(CultureInfo.InvariantCulture) + "-";
            try
            {
                rules.Append(JsonSchemaGrammar.FromSchema(ToolTurn.Parameters(tool), prefix));
            }
            catch (NotSupportedException e)
            {
                throw new NotSupportedException($"The parameters schema of tool '{tool.Name}' cannot be enforced: {e.Message}", e);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"The parameters schema of tool '{tool.Name}' is malformed: {e.Message}", nameof(tools), e);
            }

            string head = "{\"name\": " + PythonJson.String(tool.Name) + ", " + PythonJson.String(argumentsKey) + ": ";
            calls.Append(i == 0 ? "" : " | ").Append("tc-call-").Append(i.ToString(CultureInfo.InvariantCulture));
            rules.Append("tc-call-").Append(i.ToString(CultureInfo.InvariantCulture)).Append(" ::= ").Append(JsonSchemaGrammar.Literal(head))
                .Append(' ').Append(prefix).Append(JsonSchemaGrammar.RootRule).Append(Prefix(callSuffix)).Append(" \"}\"\n");
        }

        var sb = new StringBuilder();
        sb.Append("root ::= ").Append(Join(Literal(listOpen), "tc-one"));
        if (!single)
        {
            sb.Append(" ( ").Append(Join(Literal(separator), "tc-one")).Append(" ){0,")
                .Append((MaxCalls - 1).ToString(CultureInfo.InvariantCulture)).Append('}');
        }

        sb.Append(Prefix(Literal(listClose))).Append('\n');
        sb.Append("tc-one ::= ").Append(Join(Literal(open), "tc-call")).Append(Prefix(Literal(close))).Append('\n');
        sb.Append(calls).Append('\n').Append(rules);
        string gbnf = sb.ToString();
        int ruleCount = gbnf.Count(c => c == '\n');
        if (ruleCount > JsonSchemaGrammar.MaxRules)
        {
            throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                $"The tools need a grammar of {ruleCount} rules, over the cap of {JsonSchemaGrammar.MaxRules} rules (JsonSchemaGrammar.MaxRules)."));
        }

        GbnfCheck.ThrowIfInvalid(gbnf, JsonSchemaGrammar.RootRule, "the tool calls");
        return gbnf;
    }

    private static string Literal(string text) => text.Length == 0 ? "" : JsonSchemaGrammar.Literal(text);

    private static string Join(string first, string second) => first.Length == 0 ? second : first + " " + second;

    private static string Prefix(string text) => text.Length == 0 ? "" : " " + text;
}
