using System.Text;
using System.Text.Json;

namespace ModelManager;

internal static partial class JsonSchemaGrammar
{
    /// <summary>Converts <paramref name="schema"/> like <see cref="FromSchema(JsonElement)"/>, with its start rule named <paramref name="startRule"/> instead of <c>root</c>, to embed in a larger grammar.</summary>
    /// <exception cref="NotSupportedException">As <see cref="FromSchema(JsonElement)"/>.</exception>
    /// <exception cref="ArgumentException">As <see cref="FromSchema(JsonElement)"/>, or <paramref name="startRule"/> is not a rule name or is taken by a rule of the grammar.</exception>
    public static string FromSchema(JsonElement schema, string startRule)
    {
        if (string.IsNullOrEmpty(startRule) || !string.Equals(SanitizeRuleName(startRule), startRule, StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{startRule}' is not a GBNF rule name (letters, digits and '-').", nameof(startRule));
        }

        string gbnf = FromSchema(schema);
        var sb = new StringBuilder(gbnf.Length + 64);
        foreach (string line in gbnf.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int separator = line.IndexOf(" ::= ", StringComparison.Ordinal);
            string name = line[..separator];
            if (string.Equals(name, startRule, StringComparison.Ordinal))
            {
                throw new ArgumentException($"The start rule name '{startRule}' is already a rule of the schema's grammar.", nameof(startRule));
            }

            sb.Append(string.Equals(name, RootRule, StringComparison.Ordinal) ? startRule : name).Append(" ::= ");
            string body = line[(separator + 5)..];
            int copied = 0;
            foreach (var (start, length) in RuleReferences(body))
            {
                if (length == RootRule.Length && string.CompareOrdinal(body, start, RootRule, 0, length) == 0)
                {
                    sb.Append(body, copied, start - copied).Append(startRule);
                    copied = start + length;
                }
            }

            sb.Append(body, copied, body.Length - copied).Append('\n');
        }

        return sb.ToString();
    }

    /// <summary>The rule names a GBNF rule body refers to (outside literals, character classes and repetition counts), as start and length.</summary>
    internal static List<(int Start, int Length)> RuleReferences(string body)
    {
        var found = new List<(int, int)>();
        int i = 0;
        while (i < body.Length)
        {
            char c = body[i];
            if (c is '"' or '[')
            {
                char end = c == '"' ? '"' : ']';
                i++;
                while (i < body.Length && body[i] != end)
                {
                    i += body[i] == '\\' ? 2 : 1;
                }

                i++;
            }
            else if (c == '{')
            {
                int close = body.IndexOf('}', i);
                i = close < 0 ? body.Length : close + 1;
            }
            else if (char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            {
                int start = i;
                while (i < body.Length && (char.IsAsciiLetterOrDigit(body[i]) || body[i] is '-' or '_'))
                {
                    i++;
                }

                found.Add((start, i - start));
            }
            else
            {
                i++;
            }
        }

        return found;
    }
}
