namespace ModelManager;

/// <summary>Checks a GBNF grammar in managed code before llama.cpp parses it: llama.cpp aborts the process on some malformed grammars.</summary>
/// <remarks>
/// Accepts the subset the library writes: one <c>name ::= body</c> rule per line; bodies of string literals, character classes,
/// rule references, groups, alternatives and the repetition operators <c>* + ?</c> and <c>{m}</c>, <c>{m,}</c>, <c>{m,n}</c>.
/// Every referenced rule must be defined once, and <c>root</c> must exist. Thread-safe.
/// </remarks>
internal static class GbnfCheck
{
    /// <summary>Throws unless <paramref name="gbnf"/> is well formed, naming the rule and the problem.</summary>
    /// <exception cref="ArgumentException">The grammar is malformed; the message names the rule and the position.</exception>
    public static void ThrowIfInvalid(string gbnf, string rootRule, string what)
    {
        ArgumentNullException.ThrowIfNull(gbnf);
        var defined = new HashSet<string>(StringComparer.Ordinal);
        var referenced = new List<(string Rule, string Name)>();
        foreach (var line in gbnf.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var split = line.IndexOf(" ::= ", StringComparison.Ordinal);
            if (split <= 0)
            {
                throw Bad(what, $"a line is not a rule: «{Clip(line)}»");
            }

            var name = line[..split];
            if (!IsName(name))
            {
                throw Bad(what, $"'{Clip(name)}' is not a rule name");
            }

            if (!defined.Add(name))
            {
                throw Bad(what, $"rule '{name}' is defined twice");
            }

            ScanBody(line, split + 5, name, referenced, what);
        }

        if (!defined.Contains(rootRule))
        {
            throw Bad(what, $"the start rule '{rootRule}' is not defined");
        }

        foreach (var (rule, name) in referenced)
        {
            if (!defined.Contains(name))
            {
                throw Bad(what, $"rule '{rule}' uses '{name}', which is not defined");
            }
        }
    }

    private static void ScanBody(string line, int start, string rule, List<(string, string)> referenced, string what)
    {
        var depth = 0;
        var i = start;
        while (i < line.Length)
        {
            var c = line[i];
            switch (c)
            {
                case ' ' or '\t' or '|' or '*' or '+' or '?':
                    i++;
                    break;
                case '(':
                    depth++;
                    i++;
                    break;
                case ')':
                    if (--depth < 0)
                    {
                        throw Bad(what, $"rule '{rule}' closes a group it never opened");
                    }

                    i++;
                    break;
                case '"':
                    i = SkipQuoted(line, i, '"', rule, what);
                    break;
                case '[':
                    i = SkipQuoted(line, i, ']', rule, what);
                    break;
                case '{':
                    var close = line.IndexOf('}', i);
                    if (close < 0 || !IsRepetition(line.AsSpan(i + 1, close - i - 1)))
                    {
                        throw Bad(what, $"rule '{rule}' has a malformed repetition at column {i}");
                    }

                    i = close + 1;
                    break;
                default:
                    var end = i;
                    while (end < line.Length && (char.IsAsciiLetterOrDigit(line[end]) || line[end] == '-' || line[end] == '_'))
                    {
                        end++;
                    }

                    if (end == i)
                    {
                        throw Bad(what, $"rule '{rule}' has an unexpected '{c}' at column {i}");
                    }

                    referenced.Add((rule, line[i..end]));
                    i = end;
                    break;
            }
        }

        if (depth != 0)
        {
            throw Bad(what, $"rule '{rule}' leaves a group open");
        }
    }

    /// <summary>Skips a string literal or character class starting at <paramref name="open"/>, honouring backslash escapes.</summary>
    private static int SkipQuoted(string line, int open, char closer, string rule, string what)
    {
        for (var i = open + 1; i < line.Length; i++)
        {
            if (line[i] == '\\')
            {
                i++;
            }
            else if (line[i] == closer)
            {
                return i + 1;
            }
        }

        throw Bad(what, $"rule '{rule}' has an unterminated {(closer == '"' ? "string" : "character class")} at column {open}");
    }

    private static bool IsRepetition(ReadOnlySpan<char> inner)
    {
        var comma = inner.IndexOf(',');
        if (comma < 0)
        {
            return IsDigits(inner);
        }

        return IsDigits(inner[..comma]) && (comma == inner.Length - 1 || IsDigits(inner[(comma + 1)..]));
    }

    private static bool IsDigits(ReadOnlySpan<char> text) => !text.IsEmpty && text.Length <= 6 && !text.ContainsAnyExceptInRange('0', '9');

    private static bool IsName(string name)
    {
        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c != '-' && c != '_')
            {
                return false;
            }
        }

        return name.Length > 0;
    }

    private static string Clip(string text) => text.Length <= 60 ? text : text[..60] + "…";

    private static ArgumentException Bad(string what, string problem) => new($"The grammar for {what} is malformed: {problem}.");
}
