using System.Globalization;
using System.Text;

namespace ModelManager;

internal static partial class JsonSchemaGrammar
{
    /// <summary>
    /// Converts an ECMAScript pattern (the subset schemas use) into a GBNF expression over the JSON text of a string's content.
    /// </summary>
    /// <remarks>
    /// Supported: literals, escapes (<c>\d \w \s \D \W \S</c>, escaped punctuation, <c>\n \t \r \xHH \uHHHH</c>), <c>.</c>,
    /// classes (ranges, negation), groups (capturing, <c>(?:</c>, named), alternation, and the quantifiers
    /// <c>? * + {n} {n,} {n,m}</c> (lazy ones too). The whole string matches the pattern, which implies that it contains a match.
    /// Narrowed: unbounded quantifiers repeat at most <see cref="PatternRepeatCap"/> times beyond their minimum; classes and
    /// <c>.</c> never produce quotes, backslashes, control characters or characters beyond the BMP; <c>\s</c> is a space.
    /// Lookarounds, backreferences and word boundaries cannot be enforced and are a <see cref="NotSupportedException"/>.
    /// </remarks>
    private sealed class PatternParser(string pattern, string path)
    {
        private const int Top = 0xFFFF;
        private int _at;

        public string Parse()
        {
            if (_at < pattern.Length && pattern[_at] == '^')
            {
                _at++;
            }

            var expression = Alternation();
            if (_at < pattern.Length)
            {
                throw Fail($"an unexpected '{pattern[_at]}' at position {_at}");
            }

            return expression.Length == 0 ? "\"\"" : expression;
        }

        private string Alternation()
        {
            var alternatives = new List<string> { Sequence() };
            while (_at < pattern.Length && pattern[_at] == '|')
            {
                _at++;
                alternatives.Add(Sequence());
            }

            return alternatives.Count == 1 ? alternatives[0] : string.Join(" | ", alternatives.Select(a => a.Length == 0 ? "\"\"" : "( " + a + " )"));
        }

        private string Sequence()
        {
            var items = new List<string>();
            while (_at < pattern.Length && pattern[_at] is not ('|' or ')'))
            {
                if (pattern[_at] == '$')
                {
                    if (_at != pattern.Length - 1)
                    {
                        throw Fail("'$' before the end of the pattern");
                    }

                    _at++;
                    break;
                }

                var atom = Atom();
                items.Add(Quantified(atom));
            }

            return string.Join(" ", items);
        }

        private string Quantified(string atom)
        {
            if (_at >= pattern.Length)
            {
                return atom;
            }

            int min, max;
            switch (pattern[_at])
            {
                case '?': min = 0; max = 1; _at++; break;
                case '*': min = 0; max = PatternRepeatCap; _at++; break;
                case '+': min = 1; max = 1 + PatternRepeatCap; _at++; break;
                case '{' when TryBraces(out min, out max): break;
                default: return atom;
            }

            if (_at < pattern.Length && pattern[_at] == '?')
            {
                _at++; // lazy: the same strings match
            }

            if (_at < pattern.Length && pattern[_at] is '*' or '+' or '?' or '{')
            {
                throw Fail($"a repeated quantifier at position {_at}");
            }

            return "( " + atom + " ){" + min.ToString(CultureInfo.InvariantCulture) + "," + max.ToString(CultureInfo.InvariantCulture) + "}";
        }

        private bool TryBraces(out int min, out int max)
        {
            min = max = 0;
            var close = pattern.IndexOf('}', _at);
            if (close < 0)
            {
                return false;
            }

            var inner = pattern.AsSpan(_at + 1, close - _at - 1);
            var comma = inner.IndexOf(',');
            var first = comma < 0 ? inner : inner[..comma];
            if (!int.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out min))
            {
                return false; // a literal '{', as ECMAScript reads it
            }

            if (comma < 0)
            {
                max = min;
            }
            else if (comma == inner.Length - 1)
            {
                max = min + PatternRepeatCap;
            }
            else if (!int.TryParse(inner[(comma + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out max) || max < min)
            {
                throw Fail("a malformed {n,m} quantifier");
            }

            if (min > DefaultMaxStringLength)
            {
                throw Fail(string.Create(CultureInfo.InvariantCulture, $"a repetition of more than {DefaultMaxStringLength}"));
            }

            max = Math.Min(max, min + DefaultMaxStringLength);
            _at = close + 1;
            return true;
        }

        private string Atom()
        {
            var c = pattern[_at];
            switch (c)
            {
                case '(':
                    _at++;
                    if (_at < pattern.Length && pattern[_at] == '?')
                    {
                        if (_at + 1 < pattern.Length && pattern[_at + 1] == ':')
                        {
                            _at += 2;
                        }
                        else if (_at + 1 < pattern.Length && pattern[_at + 1] == '<' && _at + 2 < pattern.Length && pattern[_at + 2] is not ('=' or '!'))
                        {
                            var end = pattern.IndexOf('>', _at);
                            _at = end < 0 ? throw Fail("an unterminated group name") : end + 1;
                        }
                        else
                        {
                            throw Fail("a lookaround");
                        }
                    }

                    var inner = Alternation();
                    if (_at >= pattern.Length || pattern[_at] != ')')
                    {
                        throw Fail("an unclosed group");
                    }

                    _at++;
                    return "( " + (inner.Length == 0 ? "\"\"" : inner) + " )";
                case '[':
                    return Set(Class());
                case '.':
                    _at++;
                    return Set([(0x20, Top)]);
                case '\\':
                    _at++;
                    return Escape(inClass: false, out var single) is { } set ? Set(set) : Char(single);
                case '^':
                    throw Fail("'^' after the start of the pattern");
                case '*' or '+' or '?':
                    throw Fail($"a quantifier with nothing to repeat at position {_at}");
                default:
                    if (char.IsSurrogate(c))
                    {
                        throw Fail("a character beyond the Basic Multilingual Plane");
                    }

                    _at++;
                    return Char(c);
            }
        }

        /// <summary>Reads an escape after its backslash: a set (<c>\d</c>…) or, with a null result, one character.</summary>
        private List<(int Lo, int Hi)>? Escape(bool inClass, out char single)
        {
            single = '\0';
            if (_at >= pattern.Length)
            {
                throw Fail("a trailing backslash");
            }

            var c = pattern[_at++];
            List<(int, int)> digits = [('0', '9')], word = [('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')], space = [(' ', ' ')];
            switch (c)
            {
                case 'd': return digits;
                case 'w': return word;
                case 's': return space;
                case 'D': return Complement(digits);
                case 'W': return Complement(word);
                case 'S': return Complement(space);
                case 'n': single = '\n'; return null;
                case 't': single = '\t'; return null;
                case 'r': single = '\r'; return null;
                case 'x': single = Hex(2); return null;
                case 'u': single = Hex(4); return null;
                case 'b' when inClass: single = '\b'; return null;
                case 'b' or 'B': throw Fail("a word boundary");
                case >= '1' and <= '9': throw Fail("a backreference");
                default:
                    if (char.IsAsciiLetterOrDigit(c))
                    {
                        throw Fail($"the escape \\{c}");
                    }

                    single = c;
                    return null;
            }
        }

        private char Hex(int digits)
        {
            if (_at + digits > pattern.Length || !int.TryParse(pattern.AsSpan(_at, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code))
            {
                throw Fail("a malformed hexadecimal escape");
            }

            _at += digits;
            return (char)code;
        }

        private List<(int Lo, int Hi)> Class()
        {
            _at++; // '['
            var negate = _at < pattern.Length && pattern[_at] == '^';
            if (negate)
            {
                _at++;
            }

            var ranges = new List<(int Lo, int Hi)>();
            var first = true;
            while (true)
            {
                if (_at >= pattern.Length)
                {
                    throw Fail("an unclosed character class");
                }

                if (pattern[_at] == ']' && !first)
                {
                    _at++;
                    break;
                }

                first = false;
                var lo = ClassChar(ranges);
                if (lo is null)
                {
                    continue;
                }

                if (_at + 1 < pattern.Length && pattern[_at] == '-' && pattern[_at + 1] != ']')
                {
                    _at++;
                    var hi = ClassChar(ranges) ?? throw Fail("a range ending in a class escape");
                    if (hi < lo)
                    {
                        throw Fail("a reversed range in a character class");
                    }

                    ranges.Add((lo.Value, hi));
                }
                else
                {
                    ranges.Add((lo.Value, lo.Value));
                }
            }

            return negate ? Complement(ranges) : ranges;
        }

        /// <summary>One character of a class, or null after adding a class escape's set to <paramref name="ranges"/>.</summary>
        private char? ClassChar(List<(int Lo, int Hi)> ranges)
        {
            var c = pattern[_at];
            if (c != '\\')
            {
                _at++;
                return c;
            }

            _at++;
            if (Escape(inClass: true, out var single) is { } set)
            {
                ranges.AddRange(set);
                return null;
            }

            return single;
        }

        private static List<(int Lo, int Hi)> Complement(List<(int Lo, int Hi)> ranges)
        {
            var result = new List<(int, int)>();
            var next = 0x20;
            foreach (var (lo, hi) in ranges.OrderBy(r => r.Lo))
            {
                if (lo > next)
                {
                    result.Add((next, lo - 1));
                }

                next = Math.Max(next, hi + 1);
            }

            if (next <= Top)
            {
                result.Add((next, Top));
            }

            return result;
        }

        /// <summary>A character class of the generatable characters in <paramref name="ranges"/>.</summary>
        private string Set(List<(int Lo, int Hi)> ranges)
        {
            var sb = new StringBuilder("[");
            foreach (var (lo, hi) in Generatable(ranges))
            {
                sb.Append(ClassText(lo));
                if (hi > lo)
                {
                    sb.Append('-').Append(ClassText(hi));
                }
            }

            if (sb.Length == 1)
            {
                throw Fail("a class of only quotes, backslashes or control characters, which are not generated");
            }

            return sb.Append(']').ToString();
        }

        /// <summary>The ranges without quotes, backslashes, DEL, control characters and surrogates.</summary>
        private static IEnumerable<(int Lo, int Hi)> Generatable(List<(int Lo, int Hi)> ranges)
        {
            int[] holes = ['"', '\\', 0x7F];
            foreach (var (rawLo, rawHi) in ranges.OrderBy(r => r.Lo))
            {
                var lo = Math.Max(rawLo, 0x20);
                var hi = Math.Min(rawHi, Top);
                foreach (var cut in holes.Append(0xD800).Where(h => h >= lo && h <= hi).Order())
                {
                    if (cut > lo)
                    {
                        yield return (lo, cut - 1);
                    }

                    lo = cut == 0xD800 ? 0xE000 : cut + 1;
                }

                if (lo <= hi)
                {
                    yield return (lo, hi);
                }
            }
        }

        private static string ClassText(int c) =>
            c < 0x80 && char.IsAsciiLetterOrDigit((char)c) ? ((char)c).ToString()
            : c <= 0xFF ? "\\x" + c.ToString("X2", CultureInfo.InvariantCulture)
            : "\\u" + c.ToString("X4", CultureInfo.InvariantCulture);

        /// <summary>One character as the JSON text that encodes it.</summary>
        private static string Char(char c) => Literal(c switch
        {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            '\b' => "\\b",
            < ' ' or '\x7F' => "\\u" + ((int)c).ToString("x4", CultureInfo.InvariantCulture),
            _ => c.ToString(),
        });

        private NotSupportedException Fail(string what) =>
            new($"The JSON schema keyword at {path} (a pattern with {what}) cannot be enforced by a llama.cpp grammar.");
    }
}
