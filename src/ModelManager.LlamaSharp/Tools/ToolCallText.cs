using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>Reading tool calls out of generated text: JSON values at an offset, call objects, call ids.</summary>
internal static class ToolCallText
{
    /// <summary>A new call id for formats whose calls carry none: "call_" and 12 hex digits.</summary>
    public static string NewCallId() => "call_" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Reads one JSON object or array starting at <paramref name="start"/> (after blanks); <paramref name="end"/> is the index just past it.</summary>
    public static bool TryReadJson(string text, int start, out JsonElement value, out int end)
    {
        value = default;
        end = start;
        while (start < text.Length && char.IsWhiteSpace(text[start]))
        {
            start++;
        }

        if (start >= text.Length || text[start] is not ('{' or '['))
        {
            return false;
        }

        byte[] bytes = Encoding.UTF8.GetBytes(text, start, text.Length - start);
        try
        {
            var reader = new Utf8JsonReader(bytes, isFinalBlock: true, state: default);
            reader.Read();
            reader.Skip();
            int consumed = checked((int)reader.BytesConsumed);
            using var document = JsonDocument.Parse(bytes.AsMemory(0, consumed));
            value = document.RootElement.Clone();
            end = start + Encoding.UTF8.GetCharCount(bytes, 0, consumed);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>A call from <c>{"name": N, key: {…}}</c> (the first of <paramref name="argumentKeys"/> present; a JSON string holding an object also counts), with its "id" when it has one.</summary>
    public static bool TryCall(JsonElement value, ReadOnlySpan<string> argumentKeys, out FunctionCallContent call)
    {
        call = null!;
        if (value.ValueKind != JsonValueKind.Object || !value.TryGetProperty("name", out var name)
            || name.ValueKind != JsonValueKind.String || string.IsNullOrEmpty(name.GetString()))
        {
            return false;
        }

        var arguments = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach (string key in argumentKeys)
        {
            if (!value.TryGetProperty(key, out var raw))
            {
                continue;
            }

            if (raw.ValueKind == JsonValueKind.String && TryReadJson(raw.GetString()!, 0, out var parsed, out int end)
                && raw.GetString()!.AsSpan(end).IsWhiteSpace())
            {
                raw = parsed;
            }

            if (raw.ValueKind != JsonValueKind.Object)
            {
                return false;
            }

            foreach (var property in raw.EnumerateObject())
            {
                arguments[property.Name] = property.Value.Clone();
            }

            break;
        }

        string id = value.TryGetProperty("id", out var given) && given.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(given.GetString())
            ? given.GetString()!
            : NewCallId();
        call = new FunctionCallContent(id, name.GetString()!, arguments);
        return true;
    }

    /// <summary>Parses calls written as <paramref name="open"/> JSON <paramref name="close"/> (the close may be missing at the very end); anything else stays text.</summary>
    public static ParsedToolOutput ParseTagged(string output, string open, string close, ReadOnlySpan<string> argumentKeys)
    {
        ArgumentNullException.ThrowIfNull(output);
        var text = new StringBuilder();
        var calls = new List<FunctionCallContent>();
        int position = 0;
        while (position < output.Length)
        {
            int tag = output.IndexOf(open, position, StringComparison.Ordinal);
            if (tag < 0)
            {
                break;
            }

            int after = tag + open.Length;
            if (TryReadJson(output, after, out var value, out int end) && TryCall(value, argumentKeys, out var call))
            {
                int next = end;
                while (next < output.Length && char.IsWhiteSpace(output[next]))
                {
                    next++;
                }

                if (string.CompareOrdinal(output, next, close, 0, close.Length) == 0 || next == output.Length)
                {
                    text.Append(output, position, tag - position);
                    calls.Add(call);
                    position = next == output.Length ? next : next + close.Length;
                    continue;
                }
            }

            text.Append(output, position, after - position);
            position = after;
        }

        text.Append(output, position, output.Length - position);
        return new ParsedToolOutput(text.ToString().Trim(), calls);
    }
}
