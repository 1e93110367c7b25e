using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace ModelManager;

internal static partial class JsonSchemaGrammar
{
    /// <summary>One conversion: the rules made so far, memoised by JSON pointer so that <c>$ref</c> recursion ends.</summary>
    private sealed partial class Builder
    {
        private static readonly JsonWriterOptions CompactWriter = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

        private static readonly HashSet<string> Annotations = new(StringComparer.Ordinal)
        {
            "description", "title", "default", "examples", "$schema", "$comment", "readOnly", "writeOnly", "deprecated",
        };

        private readonly JsonElement _root;
        private readonly List<string> _names = [];
        private readonly List<string?> _bodies = [];
        private readonly Dictionary<string, string> _byPointer = new(StringComparer.Ordinal);
        private readonly HashSet<string> _taken = new(StringComparer.Ordinal);
        private readonly List<string> _shared = [];
        private readonly HashSet<string> _referenced = new(StringComparer.Ordinal);
        private int _length;

        public Builder(JsonElement root) => _root = root;

        public string Build()
        {
            string top = Visit(_root, "$", "#", 0);
            if (!string.Equals(top, RootRule, StringComparison.Ordinal))
            {
                // A boolean root schema maps straight onto a shared rule.
                _names.Insert(0, RootRule);
                _bodies.Insert(0, top);
            }

            var sb = new StringBuilder();
            for (int i = 0; i < _names.Count; i++)
            {
                sb.Append(_names[i]).Append(" ::= ").Append(_bodies[i]).Append('\n');
            }

            AppendShared(sb, _shared);
            if (_names.Count + _shared.Count > MaxRules)
            {
                throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                    $"The JSON schema needs a grammar of {_names.Count + _shared.Count} rules, over the cap of {MaxRules} rules (JsonSchemaGrammar.MaxRules)."));
            }

            if (sb.Length > MaxGrammarLength)
            {
                throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                    $"The JSON schema needs a grammar of {sb.Length} characters, over the cap of {MaxGrammarLength} characters (JsonSchemaGrammar.MaxGrammarLength)."));
            }

            return sb.ToString();
        }

        /// <summary>The rule (or shared rule) that matches <paramref name="schema"/>.</summary>
        private string Visit(JsonElement schema, string path, string pointer, int depth)
        {
            if (_byPointer.TryGetValue(pointer, out string? known))
            {
                _referenced.Add(known);
                return known;
            }

            if (depth > MaxDepth)
            {
                throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                    $"The JSON schema at {path} is nested deeper than the cap of {MaxDepth} levels (JsonSchemaGrammar.MaxDepth)."));
            }

            switch (schema.ValueKind)
            {
                case JsonValueKind.True:
                    return Use("value");
                case JsonValueKind.False:
                    throw new NotSupportedException($"The JSON schema at {path} is 'false', which no value satisfies; a grammar cannot generate it.");
                case JsonValueKind.Object:
                    break;
                default:
                    throw new ArgumentException($"The JSON schema at {path} is neither an object nor a boolean.", nameof(schema));
            }

            string name = pointer.Length == 1 ? RootRule : NewName(pointer);
            _byPointer[pointer] = name;
            int index = _names.Count;
            _names.Add(name);
            _bodies.Add(null);
            if (_names.Count + _shared.Count > MaxRules)
            {
                throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                    $"The JSON schema needs a grammar of more than {MaxRules} rules (JsonSchemaGrammar.MaxRules); stopped at {path}."));
            }

            string body = Body(schema, path, pointer, depth);
            if (pointer.Length > 1 && IsRuleName(body) && !_referenced.Contains(name))
            {
                // A schema that is just another rule (a $ref, a primitive type) needs no rule of its own.
                _names.RemoveAt(index);
                _bodies.RemoveAt(index);
                _taken.Remove(name);
                _byPointer[pointer] = body;
                return body;
            }

            _bodies[index] = body;
            _length += name.Length + body.Length + 6;
            if (_length > MaxGrammarLength)
            {
                throw new NotSupportedException(string.Create(CultureInfo.InvariantCulture,
                    $"The JSON schema needs a grammar of more than {MaxGrammarLength} characters (JsonSchemaGrammar.MaxGrammarLength); stopped at {path}."));
            }

            return name;
        }

        private string Body(JsonElement schema, string path, string pointer, int depth)
        {
            JsonElement? type = null, refValue = null, constValue = null, enumValue = null, anyOf = null, oneOf = null;
            string? firstStructural = null;
            foreach (var property in schema.EnumerateObject())
            {
                string keyword = property.Name;
                if (Annotations.Contains(keyword))
                {
                    continue;
                }

                switch (keyword)
                {
                    case "$defs" or "definitions":
                        continue;
                    case "$id" when pointer.Length == 1:
                        continue;
                    case "$ref": refValue = property.Value; break;
                    case "const": constValue = property.Value; break;
                    case "enum": enumValue = property.Value; break;
                    case "anyOf": anyOf = property.Value; break;
                    case "oneOf": oneOf = property.Value; break;
                    case "type": type = property.Value; break;
                    case "properties" or "required" or "additionalProperties" or "items" or "minItems" or "maxItems"
                        or "format" or "minLength" or "maxLength" or "pattern" or "not"
                        or "minimum" or "maximum" or "exclusiveMinimum" or "exclusiveMaximum":
                        break;
                    default:
                        throw Unsupported(Child(path, keyword), keyword);
                }

                if (keyword is not ("$ref" or "anyOf" or "oneOf"))
                {
                    firstStructural ??= keyword;
                }
            }

            if (refValue is { } reference)
            {
                RejectBeside(path, "$ref", firstStructural ?? (anyOf is null ? oneOf is null ? null : "oneOf" : "anyOf"));
                return Reference(reference, Child(path, "$ref"), depth);
            }

            if (anyOf is not null || oneOf is not null)
            {
                string keyword = anyOf is null ? "oneOf" : "anyOf";
                if (anyOf is not null && oneOf is not null)
                {
                    throw Unsupported(Child(path, "oneOf"), "oneOf beside anyOf");
                }

                RejectBeside(path, keyword, firstStructural);
                return Alternatives((anyOf ?? oneOf)!.Value, path, pointer, keyword, depth);
            }

            int denied = DeniedLength(schema, path);
            if (denied > 0 && (constValue is not null || enumValue is not null))
            {
                throw Unsupported(Child(path, "not"), "not beside enum or const");
            }

            if (constValue is { } constant)
            {
                if (enumValue is { } list && !Contains(list, constant))
                {
                    throw Unsupported(Child(path, "const"), "const outside enum");
                }

                CheckType(type, constant, Child(path, "const"));
                return Literal(Compact(constant));
            }

            if (enumValue is { } values)
            {
                if (values.ValueKind != JsonValueKind.Array)
                {
                    throw Malformed(Child(path, "enum"), "an array");
                }

                var alternatives = new List<string>();
                foreach (var value in values.EnumerateArray())
                {
                    if (TypeAllows(type, value))
                    {
                        alternatives.Add(Literal(Compact(value)));
                    }
                }

                if (alternatives.Count == 0)
                {
                    throw new NotSupportedException($"The JSON schema keyword at {Child(path, "enum")} allows no value of the schema's type; a grammar cannot generate it.");
                }

                return string.Join(" | ", alternatives);
            }

            var types = Types(schema, type, path);
            var expressions = new List<string>(types.Count);
            foreach (string t in types)
            {
                expressions.Add(t switch
                {
                    "object" => ObjectExpression(schema, path, pointer, depth),
                    "array" => ArrayExpression(schema, path, pointer, depth),
                    "string" => StringExpression(schema, path, denied),
                    "number" => NumberExpression(schema, path),
                    "integer" => IntegerExpression(schema, path),
                    "boolean" => Use("boolean"),
                    "null" => Use("null"),
                    "value" => Use("value"),
                    _ => throw Unsupported(Child(path, "type"), "type '" + t + "'"),
                });
            }

            return expressions.Count == 1 ? expressions[0] : string.Join(" | ", Parenthesize(expressions));
        }

        private static List<string> Types(JsonElement schema, JsonElement? type, string path)
        {
            var types = new List<string>();
            if (type is { } t)
            {
                if (t.ValueKind == JsonValueKind.String)
                {
                    types.Add(t.GetString()!);
                }
                else if (t.ValueKind == JsonValueKind.Array)
                {
                    foreach (var item in t.EnumerateArray())
                    {
                        if (item.ValueKind != JsonValueKind.String)
                        {
                            throw Malformed(Child(path, "type"), "a string or an array of strings");
                        }

                        string name = item.GetString()!;
                        if (!types.Contains(name))
                        {
                            types.Add(name);
                        }
                    }

                    if (types.Count == 0)
                    {
                        throw new NotSupportedException($"The JSON schema keyword at {Child(path, "type")} lists no type; a grammar cannot generate it.");
                    }
                }
                else
                {
                    throw Malformed(Child(path, "type"), "a string or an array of strings");
                }

                // Every integer is a number: one alternative is enough, and keeps the grammar unambiguous.
                if (types.Contains("number"))
                {
                    types.Remove("integer");
                }
            }
            else if (Has(schema, "properties") || Has(schema, "required") || Has(schema, "additionalProperties"))
            {
                types.Add("object");
            }
            else if (Has(schema, "items") || Has(schema, "minItems") || Has(schema, "maxItems"))
            {
                types.Add("array");
            }
            else if (Has(schema, "format") || Has(schema, "minLength") || Has(schema, "maxLength") || Has(schema, "pattern"))
            {
                types.Add("string");
            }
            else if (Has(schema, "minimum") || Has(schema, "maximum") || Has(schema, "exclusiveMinimum") || Has(schema, "exclusiveMaximum"))
            {
                types.Add("number");
            }
            else
            {
                types.Add("value");
            }

            return types;
        }

        private string ObjectExpression(JsonElement schema, string path, string pointer, int depth)
        {
            bool hasProperties = schema.TryGetProperty("properties", out var properties);
            if (hasProperties && properties.ValueKind != JsonValueKind.Object)
            {
                throw Malformed(Child(path, "properties"), "an object");
            }

            var required = new List<string>();
            if (schema.TryGetProperty("required", out var requiredList))
            {
                if (requiredList.ValueKind != JsonValueKind.Array)
                {
                    throw Malformed(Child(path, "required"), "an array of strings");
                }

                foreach (var item in requiredList.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        throw Malformed(Child(path, "required"), "an array of strings");
                    }

                    required.Add(item.GetString()!);
                }
            }

            bool hasAdditional = schema.TryGetProperty("additionalProperties", out var additional);
            if (hasAdditional && additional.ValueKind is not (JsonValueKind.True or JsonValueKind.False or JsonValueKind.Object))
            {
                throw Malformed(Child(path, "additionalProperties"), "a boolean or a schema");
            }

            if (!hasProperties && required.Count == 0)
            {
                if (!hasAdditional || additional.ValueKind == JsonValueKind.True)
                {
                    return Use("object");
                }

                if (additional.ValueKind == JsonValueKind.False)
                {
                    Use("ws");
                    return "\"{\" ws \"}\"";
                }

                // A map: any keys, each value matching the schema.
                Use("ws");
                Use("key");
                string valueRule = Visit(additional, Child(path, "additionalProperties"), pointer + "/additionalProperties", depth + 1);
                string pair = "key ws \":\" ws " + valueRule;
                return "\"{\" ws ( " + pair + " ( ws \",\" ws " + pair + " ){0," + (AnyObjectMembers - 1).ToString(CultureInfo.InvariantCulture) + "} )? ws \"}\"";
            }

            // Required properties first, in declared order (then any required name without a schema), then optional ones.
            var mandatory = new List<string>();
            var optional = new List<string>();
            if (hasProperties)
            {
                foreach (var property in properties.EnumerateObject())
                {
                    string pair = Pair(property.Name, Visit(property.Value, Child(Child(path, "properties"), property.Name),
                        pointer + "/properties/" + EscapePointer(property.Name), depth + 1));
                    (required.Contains(property.Name) ? mandatory : optional).Add(pair);
                }
            }

            foreach (string name in required)
            {
                if (!hasProperties || !properties.TryGetProperty(name, out _))
                {
                    string pair = Pair(name, Use("value"));
                    if (!mandatory.Contains(pair))
                    {
                        mandatory.Add(pair);
                    }
                }
            }

            Use("ws");
            const string Separator = " ws \",\" ws ";
            var sb = new StringBuilder("\"{\" ws ");
            if (mandatory.Count > 0)
            {
                sb.Append(string.Join(Separator, mandatory));
                foreach (string pair in optional)
                {
                    sb.Append(" (").Append(Separator).Append(pair).Append(" )?");
                }
            }
            else if (optional.Count > 0)
            {
                // Any in-order subset: choose the first present property, then each later one optionally.
                sb.Append("( ");
                for (int first = 0; first < optional.Count; first++)
                {
                    if (first > 0)
                    {
                        sb.Append(" | ");
                    }

                    sb.Append(optional[first]);
                    for (int next = first + 1; next < optional.Count; next++)
                    {
                        sb.Append(" (").Append(Separator).Append(optional[next]).Append(" )?");
                    }
                }

                sb.Append(" )?");
            }

            return sb.Append(" ws \"}\"").ToString();
        }

        private static string Pair(string name, string valueRule) =>
            Literal(JsonSerializer.Serialize(name, JsonStringOptions)) + " ws \":\" ws " + valueRule;

        private static readonly JsonSerializerOptions JsonStringOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

        private string ArrayExpression(JsonElement schema, string path, string pointer, int depth)
        {
            int min = Bound(schema, "minItems", path, MaxItemsBound) ?? 0;
            // Without maxItems a small model may never close the array: at most DefaultMaxItems (or minItems, if more).
            int max = Narrowed(Bound(schema, "maxItems", path, null), MaxItemsBound) ?? Math.Max(min, DefaultMaxItems);
            if (max < min)
            {
                throw new NotSupportedException($"The JSON schema keyword at {Child(path, "maxItems")} is below minItems; no array satisfies it.");
            }

            string item = schema.TryGetProperty("items", out var items)
                ? Visit(items, Child(path, "items"), pointer + "/items", depth + 1)
                : Use("value");
            Use("ws");
            if (max == 0)
            {
                return "\"[\" ws \"]\"";
            }

            string more = "( ws \",\" ws " + item + " )";
            string repeat = max == 1
                ? string.Empty
                : more + "{" + Math.Max(min - 1, 0).ToString(CultureInfo.InvariantCulture) + "," + (max - 1).ToString(CultureInfo.InvariantCulture) + "}";
            string elements = repeat.Length == 0 ? item : item + " " + repeat;
            return min == 0
                ? "\"[\" ws ( " + elements + " )? ws \"]\""
                : "\"[\" ws " + elements + " ws \"]\"";
        }

        private string StringExpression(JsonElement schema, string path, int deniedLength)
        {
            int? min = Bound(schema, "minLength", path, MaxStringLengthBound);
            int? max = Narrowed(Bound(schema, "maxLength", path, null), DefaultMaxStringLength);
            bool hasPattern = schema.TryGetProperty("pattern", out var pattern);
            if (schema.TryGetProperty("format", out var format))
            {
                string? name = format.ValueKind == JsonValueKind.String ? format.GetString() : null;
                string? content = name is "date" or "time" or "date-time" or "uuid" ? Use(name) : name is null ? null : FormatExpression(name);
                if (content is null)
                {
                    throw Unsupported(Child(path, "format"), "format '" + (name ?? format.GetRawText()) + "'");
                }

                if (min is not null || max is not null || hasPattern || deniedLength > 0)
                {
                    var other = hasPattern ? "pattern" : deniedLength > 0 ? "not" : min is null ? "maxLength" : "minLength";
                    throw Unsupported(Child(path, other), other + " beside format");
                }

                return "\"\\\"\" " + content + " \"\\\"\"";
            }

            if (hasPattern)
            {
                if (pattern.ValueKind != JsonValueKind.String)
                {
                    throw Malformed(Child(path, "pattern"), "a string");
                }

                if (min is not null || max is not null || deniedLength > 0)
                {
                    var other = deniedLength > 0 ? "not" : min is null ? "maxLength" : "minLength";
                    throw Unsupported(Child(path, other), other + " beside pattern");
                }

                return PatternExpression(pattern.GetString()!, Child(path, "pattern"));
            }

            if (deniedLength > 0)
            {
                // Longer than every denied string, so equal to none of them.
                min = Math.Max(min ?? 0, deniedLength);
                max ??= DefaultMaxStringLength;
            }

            if (min is null && max is null)
            {
                return Use("string");
            }

            if (max < min)
            {
                throw new NotSupportedException($"The JSON schema keyword at {Child(path, "maxLength")} is below minLength; no string satisfies it.");
            }

            Use("char");
            string lower = (min ?? 0).ToString(CultureInfo.InvariantCulture);
            string upper = (max ?? DefaultMaxStringLength).ToString(CultureInfo.InvariantCulture);
            return "\"\\\"\" char{" + lower + "," + upper + "} \"\\\"\"";
        }

        /// <summary>An upper bound, narrowed to <paramref name="cap"/>: fewer characters or items than allowed are still valid.</summary>
        private static int? Narrowed(int? bound, int cap) => bound is { } b ? Math.Min(b, cap) : null;

        private string Alternatives(JsonElement list, string path, string pointer, string keyword, int depth)
        {
            if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
            {
                throw Malformed(Child(path, keyword), "a non-empty array of schemas");
            }

            var rules = new List<string>();
            int i = 0;
            foreach (var alternative in list.EnumerateArray())
            {
                string rule = Visit(alternative, path + "." + keyword + "[" + i.ToString(CultureInfo.InvariantCulture) + "]",
                    pointer + "/" + keyword + "/" + i.ToString(CultureInfo.InvariantCulture), depth + 1);
                if (!rules.Contains(rule))
                {
                    rules.Add(rule);
                }

                i++;
            }

            return string.Join(" | ", rules);
        }

        private string Reference(JsonElement reference, string path, int depth)
        {
            string? text = reference.ValueKind == JsonValueKind.String ? reference.GetString() : null;
            if (text is null)
            {
                throw Malformed(path, "a string");
            }

            if (!text.StartsWith('#'))
            {
                throw Unsupported(path, "a reference outside the document ('" + text + "')");
            }

            if (text.Length > 1 && text[1] != '/')
            {
                throw Unsupported(path, "an anchor reference ('" + text + "')");
            }

            // Walk the JSON pointer from the root, building the canonical pointer and path of the target.
            var target = _root;
            string targetPath = "$";
            string targetPointer = "#";
            if (text.Length > 1)
            {
                foreach (string raw in text[2..].Split('/'))
                {
                    string segment = Uri.UnescapeDataString(raw).Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal);
                    if (target.ValueKind == JsonValueKind.Object && target.TryGetProperty(segment, out var child))
                    {
                        target = child;
                        targetPath = Child(targetPath, segment);
                    }
                    else if (target.ValueKind == JsonValueKind.Array && int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out int index)
                        && index < target.GetArrayLength())
                    {
                        target = target[index];
                        targetPath += "[" + segment + "]";
                    }
                    else
                    {
                        throw new ArgumentException($"The JSON schema reference at {path} ('{text}') points to nothing.", nameof(reference));
                    }

                    targetPointer += "/" + EscapePointer(segment);
                }
            }

            return Visit(target, targetPath, targetPointer, depth + 1);
        }

        private string Use(string sharedRule)
        {
            UseShared(sharedRule, _shared);
            return sharedRule;
        }

        private string NewName(string pointer)
        {
            var parts = new List<string>();
            foreach (string segment in pointer.Split('/'))
            {
                if (segment is not ("#" or "properties" or "$defs" or "definitions"))
                {
                    parts.Add(SanitizeRuleName(segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal)));
                }
            }

            string name = parts.Count == 0 ? "r" : string.Join("-", parts);
            string candidate = name;
            for (int i = 2; string.Equals(candidate, RootRule, StringComparison.Ordinal) || IsSharedName(candidate) || !_taken.Add(candidate); i++)
            {
                candidate = name + "-" + i.ToString(CultureInfo.InvariantCulture);
            }

            return candidate;
        }

        /// <summary>A non-negative integer keyword; over <paramref name="cap"/> (when given) it cannot be enforced.</summary>
        private static int? Bound(JsonElement schema, string keyword, string path, int? cap)
        {
            if (!schema.TryGetProperty(keyword, out var value))
            {
                return null;
            }

            if (value.ValueKind != JsonValueKind.Number || !value.TryGetDecimal(out decimal bound) || bound < 0 || bound != decimal.Truncate(bound))
            {
                throw Malformed(Child(path, keyword), "a non-negative integer");
            }

            if (bound > cap)
            {
                throw OverBound(Child(path, keyword), cap.Value);
            }

            return (int)Math.Min(bound, int.MaxValue);
        }

        private static NotSupportedException OverBound(string path, int cap) =>
            new(string.Create(CultureInfo.InvariantCulture, $"The JSON schema keyword at {path} is over the bound of {cap} that a grammar enforces."));

        private static void RejectBeside(string path, string keyword, string? other)
        {
            if (other is not null)
            {
                throw Unsupported(Child(path, other), "'" + other + "' beside '" + keyword + "'");
            }
        }

        private static void CheckType(JsonElement? type, JsonElement value, string path)
        {
            if (!TypeAllows(type, value))
            {
                throw new NotSupportedException($"The JSON schema keyword at {path} has a value outside the schema's type; no value satisfies it.");
            }
        }

        private static bool TypeAllows(JsonElement? type, JsonElement value)
        {
            if (type is not { } t)
            {
                return true;
            }

            if (t.ValueKind == JsonValueKind.String)
            {
                return Matches(t.GetString(), value);
            }

            if (t.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in t.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String && Matches(item.GetString(), value))
                    {
                        return true;
                    }
                }
            }

            return false;
        }

        private static bool Matches(string? type, JsonElement value) => type switch
        {
            "string" => value.ValueKind == JsonValueKind.String,
            "number" => value.ValueKind == JsonValueKind.Number,
            "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetDecimal(out decimal d) && d == decimal.Truncate(d),
            "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
            "null" => value.ValueKind == JsonValueKind.Null,
            "object" => value.ValueKind == JsonValueKind.Object,
            "array" => value.ValueKind == JsonValueKind.Array,
            _ => false,
        };

        private static bool Contains(JsonElement list, JsonElement value)
        {
            if (list.ValueKind != JsonValueKind.Array)
            {
                return false;
            }

            foreach (var item in list.EnumerateArray())
            {
                if (JsonElement.DeepEquals(item, value))
                {
                    return true;
                }
            }

            return false;
        }

        private static bool IsRuleName(string text)
        {
            foreach (char c in text)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c != '-')
                {
                    return false;
                }
            }

            return text.Length > 0;
        }

        private static bool Has(JsonElement schema, string keyword) => schema.TryGetProperty(keyword, out _);

        private static IEnumerable<string> Parenthesize(List<string> expressions)
        {
            foreach (string expression in expressions)
            {
                yield return expression.Contains(' ', StringComparison.Ordinal) ? "( " + expression + " )" : expression;
            }
        }

        private static string Compact(JsonElement value)
        {
            var buffer = new System.Buffers.ArrayBufferWriter<byte>();
            using (var writer = new Utf8JsonWriter(buffer, CompactWriter))
            {
                value.WriteTo(writer);
            }

            return Encoding.UTF8.GetString(buffer.WrittenSpan);
        }

        private static string EscapePointer(string segment) =>
            segment.Replace("~", "~0", StringComparison.Ordinal).Replace("/", "~1", StringComparison.Ordinal);

        private static string Child(string path, string name)
        {
            bool simple = name.Length > 0 && (char.IsAsciiLetter(name[0]) || name[0] is '_' or '$');
            foreach (char c in name)
            {
                simple &= char.IsAsciiLetterOrDigit(c) || c is '_' or '$' or '-';
            }

            return simple ? path + "." + name : path + "['" + name.Replace("'", "\\'", StringComparison.Ordinal) + "']";
        }

        private static NotSupportedException Unsupported(string path, string what) =>
            new($"The JSON schema keyword at {path} ({what}) cannot be enforced by a llama.cpp grammar.");

        private static ArgumentException Malformed(string path, string expected) =>
            new($"The JSON schema keyword at {path} must be {expected}.");
    }
}
