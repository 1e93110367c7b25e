using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace ModelManager.IntegrationTests;

/// <summary>A small JSON schema validator for the keywords <c>AIJsonUtilities.CreateJsonSchema</c> writes, to check generated output.</summary>
internal static class SchemaCheck
{
    public static void Validate(JsonElement root, JsonElement schema, JsonElement value, string path)
    {
        if (schema.ValueKind == JsonValueKind.True)
        {
            return;
        }

        if (schema.TryGetProperty("$ref", out var reference))
        {
            var target = root;
            foreach (var segment in reference.GetString()!.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                target = target.GetProperty(segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal));
            }

            Validate(root, target, value, path);
            return;
        }

        if (schema.TryGetProperty("anyOf", out var anyOf) || schema.TryGetProperty("oneOf", out anyOf))
        {
            var errors = new List<string>();
            foreach (var alternative in anyOf.EnumerateArray())
            {
                try
                {
                    Validate(root, alternative, value, path);
                    return;
                }
                catch (Xunit.Sdk.XunitException e)
                {
                    errors.Add(e.Message);
                }
            }

            Assert.Fail($"{path}: no alternative matches: {string.Join("; ", errors)}");
        }

        if (schema.TryGetProperty("const", out var constant))
        {
            Assert.True(JsonElement.DeepEquals(constant, value), $"{path}: {value.GetRawText()} is not {constant.GetRawText()}");
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            var text = value.GetString()!;
            int length = text.Length;
            Assert.True(!schema.TryGetProperty("minLength", out var min) || length >= min.GetInt32(), $"{path}: {length} characters is below minLength");
            Assert.True(!schema.TryGetProperty("maxLength", out var max) || length <= max.GetInt32(), $"{path}: {length} characters is above maxLength");
            if (schema.TryGetProperty("pattern", out var pattern))
            {
                Assert.True(Regex.IsMatch(text, pattern.GetString()!, RegexOptions.ECMAScript), $"{path}: «{text}» does not match {pattern.GetString()}");
            }

            if (schema.TryGetProperty("format", out var format))
            {
                Assert.True(MatchesFormat(format.GetString()!, text), $"{path}: «{text}» is not a valid {format.GetString()}");
            }
        }

        if (value.ValueKind == JsonValueKind.Number)
        {
            var n = value.GetDecimal();
            Assert.True(!schema.TryGetProperty("minimum", out var min) || n >= min.GetDecimal(), $"{path}: {n} is below minimum");
            Assert.True(!schema.TryGetProperty("maximum", out var max) || n <= max.GetDecimal(), $"{path}: {n} is above maximum");
            Assert.True(!schema.TryGetProperty("exclusiveMinimum", out var emin) || n > emin.GetDecimal(), $"{path}: {n} is not above exclusiveMinimum");
            Assert.True(!schema.TryGetProperty("exclusiveMaximum", out var emax) || n < emax.GetDecimal(), $"{path}: {n} is not below exclusiveMaximum");
        }

        if (schema.TryGetProperty("not", out var not))
        {
            var satisfied = true;
            try
            {
                Validate(root, not, value, path);
            }
            catch (Xunit.Sdk.XunitException)
            {
                satisfied = false;
            }

            Assert.False(satisfied, $"{path}: {value.GetRawText()} satisfies the schema under 'not'");
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            int count = value.GetArrayLength();
            Assert.True(!schema.TryGetProperty("minItems", out var min) || count >= min.GetInt32(), $"{path}: {count} items is below minItems");
            Assert.True(!schema.TryGetProperty("maxItems", out var max) || count <= max.GetInt32(), $"{path}: {count} items is above maxItems");
        }

        if (schema.TryGetProperty("enum", out var values))
        {
            Assert.True(values.EnumerateArray().Any(v => JsonElement.DeepEquals(v, value)), $"{path}: {value.GetRawText()} is not in {values.GetRawText()}");
        }

        if (schema.TryGetProperty("type", out var type))
        {
            var types = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(t => t.GetString()!).ToList() : [type.GetString()!];
            Assert.True(types.Any(t => Matches(t, value)), $"{path}: {value.GetRawText()} is not of type {type.GetRawText()}");
        }

        if (value.ValueKind == JsonValueKind.Object)
        {
            var properties = schema.TryGetProperty("properties", out var p) ? p : default;
            if (schema.TryGetProperty("required", out var required))
            {
                foreach (var name in required.EnumerateArray())
                {
                    Assert.True(value.TryGetProperty(name.GetString()!, out _), $"{path}: required property '{name}' is missing");
                }
            }

            foreach (var property in value.EnumerateObject())
            {
                if (properties.ValueKind == JsonValueKind.Object && properties.TryGetProperty(property.Name, out var propertySchema))
                {
                    Validate(root, propertySchema, property.Value, path + "." + property.Name);
                }
                else if (schema.TryGetProperty("additionalProperties", out var extra))
                {
                    Assert.False(extra.ValueKind == JsonValueKind.False, $"{path}: property '{property.Name}' is not allowed");
                    Validate(root, extra, property.Value, path + "." + property.Name);
                }
            }
        }

        if (value.ValueKind == JsonValueKind.Array && schema.TryGetProperty("items", out var items))
        {
            int i = 0;
            foreach (var item in value.EnumerateArray())
            {
                Validate(root, items, item, $"{path}[{i++}]");
            }
        }
    }

    private static bool MatchesFormat(string format, string text) => format switch
    {
        "date" => DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
        "time" => TimeOnly.TryParse(text, CultureInfo.InvariantCulture, out _),
        "date-time" => DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.None, out _),
        "uuid" => Guid.TryParseExact(text, "D", out _),
        "email" => System.Net.Mail.MailAddress.TryCreate(text, out var mail) && mail.Address == text,
        "uri" or "iri" => Uri.TryCreate(text, UriKind.Absolute, out _),
        "uri-reference" or "iri-reference" => Uri.TryCreate(text, UriKind.RelativeOrAbsolute, out _),
        "hostname" => Uri.CheckHostName(text) == UriHostNameType.Dns,
        "ipv4" => System.Net.IPAddress.TryParse(text, out var ip) && ip.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && ip.ToString() == text,
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "SchemaCheck does not know this format"),
    };

    private static bool Matches(string type, JsonElement value) => type switch
    {
        "object" => value.ValueKind == JsonValueKind.Object,
        "array" => value.ValueKind == JsonValueKind.Array,
        "string" => value.ValueKind == JsonValueKind.String,
        "number" => value.ValueKind == JsonValueKind.Number,
        "integer" => value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out _),
        "boolean" => value.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => value.ValueKind == JsonValueKind.Null,
        _ => false,
    };
}
