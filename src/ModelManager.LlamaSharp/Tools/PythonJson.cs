using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ModelManager;

/// <summary>Writes JSON exactly as Python's <c>json.dumps(x, ensure_ascii=False, indent=...)</c> does, the <c>tojson</c> filter of Hugging Face chat templates.</summary>
internal static class PythonJson
{
    /// <summary>The text of <paramref name="value"/>; <paramref name="indent"/> null is one line with ", " and ": " separators.</summary>
    public static string Dumps(JsonElement value, int? indent = null)
    {
        var sb = new StringBuilder();
        Write(sb, value, indent, 0);
        return sb.ToString();
    }

    /// <summary>A Python-style JSON string literal of <paramref name="text"/>.</summary>
    public static string String(string text)
    {
        var sb = new StringBuilder(text.Length + 2);
        WriteString(sb, text);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, JsonElement value, int? indent, int level)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Object:
                WriteContainer(sb, '{', '}', value.EnumerateObject().Select(p => ((string?)p.Name, p.Value)), indent, level, keyed: true);
                break;
            case JsonValueKind.Array:
                WriteContainer(sb, '[', ']', value.EnumerateArray().Select(v => ((string?)null, v)), indent, level, keyed: false);
                break;
            case JsonValueKind.String:
                WriteString(sb, value.GetString()!);
                break;
            case JsonValueKind.Number:
                sb.Append(Number(value.GetRawText()));
                break;
            case JsonValueKind.True:
                sb.Append("true");
                break;
            case JsonValueKind.False:
                sb.Append("false");
                break;
            default:
                sb.Append("null");
                break;
        }
    }

    private static void WriteContainer(StringBuilder sb, char open, char close, IEnumerable<(string? Name, JsonElement Value)> items, int? indent, int level, bool keyed)
    {
        sb.Append(open);
        bool first = true;
        foreach (var (name, item) in items)
        {
            if (!first)
            {
                sb.Append(indent is null ? ", " : ",");
            }

            if (indent is { } width)
            {
                sb.Append('\n').Append(' ', width * (level + 1));
            }

            if (keyed)
            {
                WriteString(sb, name!);
                sb.Append(": ");
            }

            Write(sb, item, indent, level + 1);
            first = false;
        }

        if (!first && indent is { } w)
        {
            sb.Append('\n').Append(' ', w * level);
        }

        sb.Append(close);
    }

    private static void WriteString(StringBuilder sb, string text)
    {
        sb.Append('"');
        foreach (char c in text)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20)
                    {
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(c);
                    }

                    break;
            }
        }

        sb.Append('"');
    }

    // Python re-reads numbers: integers print as written, other numbers as the float's repr.
    private static string Number(string raw)
    {
        if (raw.AsSpan().IndexOfAny('.', 'e', 'E') < 0)
        {
            return raw;
        }

        string r = double.Parse(raw, CultureInfo.InvariantCulture).ToString("R", CultureInfo.InvariantCulture).Replace('E', 'e');
        return r.AsSpan().IndexOfAny('.', 'e') < 0 && !r.Contains("Infinity", StringComparison.Ordinal) ? r + ".0" : r;
    }
}
