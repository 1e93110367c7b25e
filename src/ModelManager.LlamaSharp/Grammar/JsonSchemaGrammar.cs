using System.Text;
using System.Text.Json;

namespace ModelManager;

/// <summary>Converts a JSON schema (as <c>AIJsonUtilities.CreateJsonSchema</c> writes it) into a llama.cpp GBNF grammar whose root rule is <c>root</c>.</summary>
/// <remarks>
/// Stateless and thread-safe. The grammar accepts a subset of the schema's instances, never a superset:
/// a keyword that cannot be enforced is a <see cref="NotSupportedException"/> naming its JSON path.
/// Choices that narrow the output (all valid under the schema), so that a small model always finishes:
/// strings without <c>maxLength</c> have at most <see cref="DefaultMaxStringLength"/> characters, arrays without <c>maxItems</c> and untyped objects at most <see cref="DefaultMaxItems"/> elements or members; additional properties are never generated unless the object declares no properties (then
/// <c>additionalProperties</c> is the value schema of a map of at most 8 entries with names of at most 32 characters); optional properties appear in declared order
/// after the required ones; whitespace is bounded (at most one newline and 20 blanks per gap); integers have
/// at most 9 digits (they fit an <see cref="int"/>), numbers at most 15 integer and 15 fraction digits and a
/// 3-digit exponent; dates have years 1000-9999 and days 01-28 (valid in every month); <c>time</c> is <c>HH:MM:SS[.f]</c> without an offset (what <see cref="TimeOnly"/> reads); <c>date-time</c> offsets stay within ±13:59 (what <see cref="DateTimeOffset"/> reads);
/// <c>oneOf</c> is generated like <c>anyOf</c>.
/// </remarks>
internal static partial class JsonSchemaGrammar
{
    /// <summary>The name of the start rule.</summary>
    public const string RootRule = "root";

    /// <summary>The most rules a grammar may have (2,000).</summary>
    public const int MaxRules = 2_000;

    /// <summary>The most characters a grammar may have (256 KB).</summary>
    public const int MaxGrammarLength = 256 * 1024;

    /// <summary>The largest <c>minLength</c> enforced (512); a larger <c>maxLength</c> is narrowed to <see cref="DefaultMaxStringLength"/>.</summary>
    public const int MaxStringLengthBound = DefaultMaxStringLength;

    /// <summary>The most characters of a string whose schema sets no <c>maxLength</c> (512): without a bound, a small model may never close a string.</summary>
    public const int DefaultMaxStringLength = 512;

    /// <summary>The most elements of an array whose schema sets no <c>maxItems</c>, and the most members of an untyped object (64): without a bound, a small model may never close it.</summary>
    public const int DefaultMaxItems = 64;

    /// <summary>The largest <c>minItems</c> enforced (256); a larger <c>maxItems</c> is narrowed to it.</summary>
    public const int MaxItemsBound = 256;

    /// <summary>The deepest nesting of schemas followed before giving up (64).</summary>
    public const int MaxDepth = 64;

    // The fixed rules, each with the shared rules it uses (declared before AnyObject, which the static initialiser builds from them).
    private static readonly (string Name, string Body, string[] Uses)[] Shared =
    [
        ("value", "object | array | string | number | boolean | null", ["object", "array", "string", "number", "boolean", "null"]),
        ("object", "\"{\" ws ( string ws \":\" ws value ( ws \",\" ws string ws \":\" ws value ){0,63} )? ws \"}\"", ["ws", "string", "value"]), // DefaultMaxItems
        ("array", "\"[\" ws ( value ( ws \",\" ws value ){0,63} )? ws \"]\"", ["ws", "value"]), // DefaultMaxItems
        ("string", "\"\\\"\" char{0,512} \"\\\"\"", ["char"]), // DefaultMaxStringLength
        ("key", "\"\\\"\" char{0,32} \"\\\"\"", ["char"]), // AnyObjectKeyLength
        ("char", "[^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4} )", []),
        ("number", "\"-\"? ( \"0\" | [1-9] [0-9]{0,14} ) ( \".\" [0-9]{1,15} )? ( [eE] [-+]? [0-9]{1,3} )?", []),
        ("integer", "\"-\"? ( \"0\" | [1-9] [0-9]{0,8} )", []),
        ("boolean", "\"true\" | \"false\"", []),
        ("null", "\"null\"", []),
        ("date", "[1-9] [0-9]{3} \"-\" ( \"0\" [1-9] | \"1\" [0-2] ) \"-\" ( \"0\" [1-9] | \"1\" [0-9] | \"2\" [0-8] )", []),
        ("time", "( [01] [0-9] | \"2\" [0-3] ) \":\" [0-5] [0-9] \":\" [0-5] [0-9] ( \".\" [0-9]{1,7} )?", []),
        ("date-time", "date \"T\" time ( \"Z\" | [+-] ( \"0\" [0-9] | \"1\" [0-3] ) \":\" [0-5] [0-9] )", ["date", "time"]), // offsets within ±13:59 (DateTimeOffset allows ±14:00)
        ("uuid", "[0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12}", []),
        ("ws", "| \" \" | \"\\n\" [ \\t]{0,20}", []),
    ];

    /// <summary>The most members (or elements) per container that <see cref="AnyObject"/> generates, and the most entries of a map (an object schema with only <c>additionalProperties</c>) (8).</summary>
    public const int AnyObjectMembers = 8;

    /// <summary>The longest member name that <see cref="AnyObject"/> and maps generate (32 characters).</summary>
    public const int AnyObjectKeyLength = 32;

    /// <summary>The deepest nesting of containers that <see cref="AnyObject"/> generates (3: the object, and two levels of objects or arrays in it).</summary>
    public const int AnyObjectDepth = 3;

    /// <summary>A grammar for a JSON object, for <c>ChatResponseFormat.Json</c> without a schema; bounded in members, name length and depth so that generation ends.</summary>
    public static string AnyObject { get; } = BuildAnyObject();

    /// <summary>Converts <paramref name="schema"/> into a GBNF grammar.</summary>
    /// <exception cref="NotSupportedException">A keyword cannot be enforced, or the grammar exceeds a cap; the message names the JSON path or the cap.</exception>
    /// <exception cref="ArgumentException">The schema is malformed (a keyword of the wrong kind, a dangling <c>$ref</c>).</exception>
    public static string FromSchema(JsonElement schema) => new Builder(schema).Build();

    private static string BuildAnyObject()
    {
        // Levels 1..AnyObjectDepth: containers at level n hold values of level n + 1; the last level holds scalars only.
        var used = new List<string>();
        UseShared("ws", used);
        UseShared("string", used);
        UseShared("key", used);
        UseShared("number", used);
        UseShared("boolean", used);
        UseShared("null", used);
        string more = "){0," + (AnyObjectMembers - 1).ToString(System.Globalization.CultureInfo.InvariantCulture) + "}";
        var sb = new StringBuilder();
        sb.Append(RootRule).Append(" ::= object-1\n");
        for (int level = 1; level < AnyObjectDepth; level++)
        {
            string inner = level + 1 == AnyObjectDepth ? "scalar" : "value-" + (level + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
            string n = level.ToString(System.Globalization.CultureInfo.InvariantCulture);
            sb.Append("object-").Append(n).Append(" ::= \"{\" ws ( member-").Append(n).Append(" ( ws \",\" ws member-").Append(n).Append(' ').Append(more).Append(" )? ws \"}\"\n");
            sb.Append("member-").Append(n).Append(" ::= key ws \":\" ws ").Append(inner).Append('\n');
            sb.Append("array-").Append(n).Append(" ::= \"[\" ws ( ").Append(inner).Append(" ( ws \",\" ws ").Append(inner).Append(' ').Append(more).Append(" )? ws \"]\"\n");
            if (level + 1 < AnyObjectDepth)
            {
                string m = (level + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                sb.Append("value-").Append(m).Append(" ::= object-").Append(m).Append(" | array-").Append(m).Append(" | scalar\n");
            }
        }

        sb.Append("scalar ::= string | number | boolean | null\n");
        AppendShared(sb, used);
        return sb.ToString();
    }

    private static void UseShared(string name, List<string> used)
    {
        if (used.Contains(name))
        {
            return;
        }

        used.Add(name);
        foreach (var rule in Shared)
        {
            if (string.Equals(rule.Name, name, StringComparison.Ordinal))
            {
                foreach (string dependency in rule.Uses)
                {
                    UseShared(dependency, used);
                }

                return;
            }
        }

        throw new InvalidOperationException($"Unknown shared rule '{name}'.");
    }

    private static void AppendShared(StringBuilder sb, List<string> used)
    {
        foreach (var rule in Shared)
        {
            if (used.Contains(rule.Name))
            {
                sb.Append(rule.Name).Append(" ::= ").Append(rule.Body).Append('\n');
            }
        }
    }

    private static bool IsSharedName(string name)
    {
        foreach (var rule in Shared)
        {
            if (string.Equals(rule.Name, name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A GBNF string literal matching exactly <paramref name="text"/>.</summary>
    internal static string Literal(string text)
    {
        var sb = new StringBuilder(text.Length + 2).Append('"');
        foreach (char c in text)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < 0x20 || c == 0x7F)
                    {
                        sb.Append("\\x").Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        return sb.Append('"').ToString();
    }

    /// <summary>A valid GBNF rule name (letters, digits, '-') derived from <paramref name="text"/>; never empty.</summary>
    internal static string SanitizeRuleName(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            if (char.IsAsciiLetterOrDigit(c))
            {
                sb.Append(c);
            }
            else if (sb.Length > 0 && sb[^1] != '-')
            {
                sb.Append('-');
            }
        }

        while (sb.Length > 0 && sb[^1] == '-')
        {
            sb.Length--;
        }

        return sb.Length == 0 ? "r" : sb.ToString();
    }
}
