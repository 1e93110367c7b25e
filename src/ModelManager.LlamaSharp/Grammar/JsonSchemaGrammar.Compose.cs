using System.Text;
using System.Text.Json;

namespace ModelManager;

internal static partial class JsonSchemaGrammar
{
    /// <summary>Converts <paramref name="schema"/> like <see cref="FromSchema(JsonElement)"/>, with every rule name prefixed by <paramref name="prefix"/> (the start rule is <paramref name="prefix"/> + <c>root</c>), so that several schemas compose into one grammar.</summary>
    /// <exception cref="NotSupportedException">As <see cref="FromSchema(JsonElement)"/>.</exception>
    /// <exception cref="ArgumentException">As <see cref="FromSchema(JsonElement)"/>, or <paramref name="prefix"/> is not the start of a rule name.</exception>
    public static string FromSchema(JsonElement schema, string prefix)
    {
        if (string.IsNullOrEmpty(prefix) || !string.Equals(SanitizeRuleName(prefix + "x"), prefix + "x", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{prefix}' cannot start a GBNF rule name (letters, digits and '-').", nameof(prefix));
        }

        string gbnf = FromSchema(schema);
        var sb = new StringBuilder(gbnf.Length * 5 / 4);
        foreach (string line in gbnf.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            int separator = line.IndexOf(" ::= ", StringComparison.Ordinal);
            sb.Append(prefix).Append(line, 0, separator).Append(" ::= ");
            string body = line[(separator + 5)..];
            int copied = 0;
            foreach (var (start, _) in RuleReferences(body))
            {
                sb.Append(body, copied, start - copied).Append(prefix);
                copied = start;
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
