using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>Builds the GBNF grammar of tool calls: each call an object naming one tool, with arguments valid under that tool's parameters schema.</summary>
internal static class ToolCallGrammar
{
    /// <summary>The most calls a parallel grammar accepts (8), so that generation ends.</summary>
    public const int MaxCalls = 8;

    /// <summary>The grammar: <paramref name="listOpen"/>, calls each wrapped in <paramref name="open"/> and <paramref name="close"/> and separated by <paramref name="separator"/>, <paramref name="listClose"/>.</summary>
    /// <exception cref="ArgumentException">No tools, a tool without a name, two tools of the same name, or a malformed parameters schema (named).</exception>
    /// <exception cref="NotSupportedException">A tool's parameters schema cannot be enforced; the message names the tool and the JSON path.</exception>
    public static string Build(IReadOnlyList<AIFunctionDeclaration> tools, string argumentsKey, bool single, string open, string close, string separator, string listOpen = "", string listClose = "")
    {
        ArgumentNullException.ThrowIfNull(tools);
        if (tools.Count == 0)
        {
            throw new ArgumentException("A tool-call grammar needs at least one tool.", nameof(tools));
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var tool in tools)
        {
            if (string.IsNullOrEmpty(tool?.Name))
            {
                throw new ArgumentException("Every tool needs a name.", nameof(tools));
            }

            if (!names.Add(tool.Name))
            {
                throw new ArgumentException($"Two tools are named '{tool.Name}'.", nameof(tools));
            }

            try
            {
                // Alone first, so that an error's JSON path is relative to this tool's parameters.
                _ = JsonSchemaGrammar.FromSchema(ToolTurn.Parameters(tool));
            }
            catch (NotSupportedException e)
            {
                throw new NotSupportedException($"The parameters schema of tool '{tool.Name}' cannot be enforced: {e.Message}", e);
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"The parameters schema of tool '{tool.Name}' is malformed: {e.Message}", nameof(tools), e);
            }
        }

        string calls;
        try
        {
            using var schema = JsonDocument.Parse(CallSchema(tools, argumentsKey));
            calls = JsonSchemaGrammar.FromSchema(schema.RootElement, "tc-call");
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"The tools together cannot be enforced: {e.Message}", e);
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
        sb.Append(calls);
        return GbnfCheck.EnsureComplete(sb.ToString());
    }

    private static string Literal(string text) => text.Length == 0 ? "" : JsonSchemaGrammar.Literal(text);

    private static string Join(string first, string second) => first.Length == 0 ? second : first + " " + second;

    private static string Prefix(string text) => text.Length == 0 ? "" : " " + text;

    /// <summary><c>{"$defs":{"t0":params0,…},"anyOf":[{"type":"object","properties":{"name":{"const":N},key:{"$ref":"#/$defs/t0"}},…}]}</c>, each tool's <c>$ref</c>s rewritten under its own definition.</summary>
    private static byte[] CallSchema(IReadOnlyList<AIFunctionDeclaration> tools, string argumentsKey)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            writer.WriteStartObject();
            writer.WritePropertyName("$defs");
            writer.WriteStartObject();
            for (int i = 0; i < tools.Count; i++)
            {
                writer.WritePropertyName(Definition(i));
                CopyRewritingRefs(ToolTurn.Parameters(tools[i]), writer, "#/$defs/" + Definition(i));
            }

            writer.WriteEndObject();
            writer.WritePropertyName("anyOf");
            writer.WriteStartArray();
            for (int i = 0; i < tools.Count; i++)
            {
                writer.WriteStartObject();
                writer.WriteString("type", "object");
                writer.WritePropertyName("properties");
                writer.WriteStartObject();
                writer.WritePropertyName("name");
                writer.WriteStartObject();
                writer.WriteString("const", tools[i].Name);
                writer.WriteEndObject();
                writer.WritePropertyName(argumentsKey);
                writer.WriteStartObject();
                writer.WriteString("$ref", "#/$defs/" + Definition(i));
                writer.WriteEndObject();
                writer.WriteEndObject();
                writer.WritePropertyName("required");
                writer.WriteStartArray();
                writer.WriteStringValue("name");
                writer.WriteStringValue(argumentsKey);
                writer.WriteEndArray();
                writer.WriteBoolean("additionalProperties", false);
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static string Definition(int index) => "t" + index.ToString(CultureInfo.InvariantCulture);

    private static void CopyRewritingRefs(JsonElement element, Utf8JsonWriter writer, string newRoot)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                writer.WriteStartObject();
                foreach (var property in element.EnumerateObject())
                {
                    writer.WritePropertyName(property.Name);
                    if (string.Equals(property.Name, "$ref", StringComparison.Ordinal) && property.Value.ValueKind == JsonValueKind.String
                        && property.Value.GetString() is { } reference && reference.StartsWith('#'))
                    {
                        writer.WriteStringValue(newRoot + reference[1..]);
                    }
                    else
                    {
                        CopyRewritingRefs(property.Value, writer, newRoot);
                    }
                }

                writer.WriteEndObject();
                break;
            case JsonValueKind.Array:
                writer.WriteStartArray();
                foreach (var item in element.EnumerateArray())
                {
                    CopyRewritingRefs(item, writer, newRoot);
                }

                writer.WriteEndArray();
                break;
            default:
                element.WriteTo(writer);
                break;
        }
    }
}
