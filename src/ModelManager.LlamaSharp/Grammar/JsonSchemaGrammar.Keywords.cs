using System.Globalization;
using System.Text.Json;

namespace ModelManager;

// The keywords enforced by narrowing: numeric ranges, patterns, string formats beyond dates, and "not" over string enums.
internal static partial class JsonSchemaGrammar
{
    /// <summary>The most values of a bounded integer range generated (1,000): a wider range is narrowed to its first 1,000 values from the bound.</summary>
    public const int MaxRangeValues = 1_000;

    /// <summary>The most repetitions an unbounded pattern quantifier (<c>*</c>, <c>+</c>, <c>{n,}</c>) generates beyond its minimum (32).</summary>
    public const int PatternRepeatCap = 32;

    /// <summary>The longest pattern converted (512 characters).</summary>
    public const int MaxPatternLength = 512;

    private sealed partial class Builder
    {
        /// <summary>An integer within the schema's bounds; an unbounded integer is the shared rule.</summary>
        private string IntegerExpression(JsonElement schema, string path) =>
            Range(schema, path, integer: true) is { } window ? IntegerWindow(window.Low, window.High) : Use("integer");

        /// <summary>A number within the schema's bounds: bounded numbers are narrowed to the integers in range.</summary>
        private string NumberExpression(JsonElement schema, string path) =>
            Range(schema, path, integer: false) is { } window ? IntegerWindow(window.Low, window.High) : Use("number");

        /// <summary>The integers a bounded schema allows, narrowed to <see cref="MaxRangeValues"/>; null when it has no bound.</summary>
        private static (long Low, long High)? Range(JsonElement schema, string path, bool integer)
        {
            decimal? low = null, high = null;
            foreach (var (keyword, exclusive, isLow) in new[] { ("minimum", false, true), ("exclusiveMinimum", true, true), ("maximum", false, false), ("exclusiveMaximum", true, false) })
            {
                if (!schema.TryGetProperty(keyword, out var value))
                {
                    continue;
                }

                if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out var bound))
                {
                    throw Malformed(Child(path, keyword), "a number");
                }

                // The integers strictly or loosely beyond the bound.
                var edge = isLow
                    ? exclusive ? decimal.Floor(bound) + 1 : decimal.Ceiling(bound)
                    : exclusive ? decimal.Ceiling(bound) - 1 : decimal.Floor(bound);
                if (isLow)
                {
                    low = low is { } l ? Math.Max(l, edge) : edge;
                }
                else
                {
                    high = high is { } h ? Math.Min(h, edge) : edge;
                }
            }

            if (low is null && high is null)
            {
                return null;
            }

            // Integers the shared rules allow (at most 9 digits), so that every generated value reads as an int.
            const decimal Largest = 999_999_999;
            var lo = low ?? Math.Max(-Largest, (high ?? 0) - (MaxRangeValues - 1));
            var hi = high ?? lo + (MaxRangeValues - 1);
            lo = Math.Max(lo, -Largest);
            hi = Math.Min(Math.Min(hi, Largest), lo + (MaxRangeValues - 1));
            if (hi < lo)
            {
                var keyword = high is null ? "minimum" : "maximum";
                throw new NotSupportedException($"The JSON schema keyword at {Child(path, keyword)} leaves no {(integer ? "integer" : "integer-valued number")} between the bounds; a grammar cannot generate it.");
            }

            return ((long)lo, (long)hi);
        }

        /// <summary>The decimal texts of the integers in [<paramref name="low"/>, <paramref name="high"/>], as a trie of alternatives.</summary>
        private static string IntegerWindow(long low, long high)
        {
            var root = new Trie();
            for (var n = low; n <= high; n++)
            {
                root.Add(n.ToString(CultureInfo.InvariantCulture));
            }

            return root.ToGbnf();
        }

        /// <summary>A string format beyond the dates: narrowed forms that always satisfy it.</summary>
        private static string? FormatExpression(string name) => name switch
        {
            "email" => "[a-z] [a-z0-9]{0,31} ( \".\" [a-z0-9]{1,16} ){0,2} \"@\" [a-z] [a-z0-9]{0,31} \".\" [a-z]{2,6}",
            "uri" or "iri" => "\"https://\" [a-z] [a-z0-9]{0,31} \".\" [a-z]{2,6} ( \"/\" [a-zA-Z0-9_~-]{1,32} ){0,4}",
            "uri-reference" or "iri-reference" => "\"/\" ( [a-zA-Z0-9_~-]{1,32} ( \"/\" [a-zA-Z0-9_~-]{1,32} ){0,4} )?",
            "hostname" => "[a-z] [a-z0-9-]{0,30} [a-z0-9] ( \".\" [a-z] [a-z0-9]{0,30} ){0,3}",
            "ipv4" => "( [0-9] | [1-9] [0-9] | \"1\" [0-9]{2} | \"2\" [0-4] [0-9] | \"25\" [0-5] ) ( \".\" ( [0-9] | [1-9] [0-9] | \"1\" [0-9]{2} | \"2\" [0-4] [0-9] | \"25\" [0-5] ) ){3}",
            _ => null,
        };

        /// <summary>
        /// The fewest characters a string needs so that it equals none of a <c>not</c>'s <c>enum</c>/<c>const</c> strings
        /// (one more than the longest); 0 without <c>not</c>.
        /// </summary>
        private static int DeniedLength(JsonElement schema, string path)
        {
            if (!schema.TryGetProperty("not", out var not))
            {
                return 0;
            }

            var notPath = Child(path, "not");
            if (not.ValueKind != JsonValueKind.Object)
            {
                throw Unsupported(notPath, "not");
            }

            var longest = -1;
            foreach (var property in not.EnumerateObject())
            {
                if (Annotations.Contains(property.Name))
                {
                    continue;
                }

                var values = property.Name switch
                {
                    "enum" when property.Value.ValueKind == JsonValueKind.Array => property.Value.EnumerateArray().ToList(),
                    "const" => [property.Value],
                    _ => throw Unsupported(Child(notPath, property.Name), "not, other than of an enum or const of strings"),
                };
                foreach (var value in values)
                {
                    if (value.ValueKind != JsonValueKind.String)
                    {
                        throw Unsupported(Child(notPath, property.Name), "not, other than of an enum or const of strings");
                    }

                    longest = Math.Max(longest, value.GetString()!.Length);
                }
            }

            if (longest + 1 > DefaultMaxStringLength)
            {
                throw Unsupported(notPath, "not of a string longer than the strings generated");
            }

            return longest + 1;
        }

        /// <summary>A JSON string whose content matches the whole <paramref name="pattern"/> (so it also contains a match, as JSON Schema asks).</summary>
        private static string PatternExpression(string pattern, string path)
        {
            if (pattern.Length > MaxPatternLength)
            {
                throw Unsupported(path, string.Create(CultureInfo.InvariantCulture, $"a pattern longer than {MaxPatternLength} characters"));
            }

            return "\"\\\"\" ( " + new PatternParser(pattern, path).Parse() + " ) \"\\\"\"";
        }
    }

    /// <summary>Decimal texts as a prefix tree, written as nested GBNF alternatives.</summary>
    private sealed class Trie
    {
        private readonly SortedDictionary<char, Trie> _next = [];
        private bool _end;

        public void Add(string text)
        {
            var node = this;
            foreach (var c in text)
            {
                if (!node._next.TryGetValue(c, out var child))
                {
                    child = new Trie();
                    node._next[c] = child;
                }

                node = child;
            }

            node._end = true;
        }

        public string ToGbnf()
        {
            var alternatives = new List<string>();
            foreach (var (c, child) in _next)
            {
                var rest = child._next.Count == 0 ? "" : " " + child.ToGbnf();
                alternatives.Add(Literal(c.ToString()) + rest);
            }

            var body = string.Join(" | ", alternatives);
            return _end ? "( " + body + " )?" : "( " + body + " )";
        }
    }
}
