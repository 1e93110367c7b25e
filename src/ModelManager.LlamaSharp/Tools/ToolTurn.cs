using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>One message as chat templates see it: a role with text, an assistant's calls, or one tool result.</summary>
/// <param name="Role">"system", "user", "assistant" or "tool" (or another role as given).</param>
/// <param name="Text">The message text (empty when none).</param>
/// <param name="Calls">An assistant's calls; empty for other turns.</param>
/// <param name="CallId">The call a tool result answers; null for other turns.</param>
internal sealed record ToolTurn(string Role, string Text, IReadOnlyList<FunctionCallContent> Calls, string? CallId)
{
    private static readonly JsonElement NoParameters = JsonDocument.Parse("""{"type":"object","properties":{}}""").RootElement.Clone();

    /// <summary>Whether this is an assistant turn with calls (a template's <c>tool_calls</c> message).</summary>
    public bool HasCalls => Calls.Count > 0;

    /// <summary>Flattens <paramref name="messages"/>: each <see cref="FunctionResultContent"/> becomes its own "tool" turn, as in the OpenAI message format.</summary>
    public static List<ToolTurn> From(IReadOnlyList<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = new List<ToolTurn>(messages.Count);
        foreach (var message in messages)
        {
            var calls = new List<FunctionCallContent>();
            var results = new List<FunctionResultContent>();
            foreach (var content in message.Contents)
            {
                if (content is FunctionCallContent call)
                {
                    calls.Add(call);
                }
                else if (content is FunctionResultContent result)
                {
                    results.Add(result);
                }
            }

            if (results.Count > 0)
            {
                foreach (var result in results)
                {
                    turns.Add(new ToolTurn("tool", ResultText(result.Result), [], result.CallId ?? ""));
                }

                continue;
            }

            string role = message.Role == ChatRole.Tool ? "tool" : message.Role.Value;
            turns.Add(new ToolTurn(role, message.Text ?? "", calls, null));
        }

        return turns;
    }

    /// <summary>The arguments of <paramref name="call"/> as a JSON object (empty when there are none).</summary>
    public static JsonElement Arguments(FunctionCallContent call) =>
        call.Arguments is null
            ? JsonSerializer.SerializeToElement(new Dictionary<string, object?>(), AIJsonUtilities.DefaultOptions)
            : JsonSerializer.SerializeToElement(call.Arguments, AIJsonUtilities.DefaultOptions);

    /// <summary>A tool result as text: a string as is, JSON as written, anything else serialised.</summary>
    public static string ResultText(object? result) => result switch
    {
        null => "",
        string text => text,
        JsonElement element => element.ValueKind == JsonValueKind.String ? element.GetString()! : element.GetRawText(),
        _ => JsonSerializer.Serialize(result, AIJsonUtilities.DefaultOptions.GetTypeInfo(typeof(object))),
    };

    /// <summary>The tool as templates receive it: <c>{"type":"function","function":{name, description, parameters}}</c>.</summary>
    public static JsonElement ToolJson(AIFunctionDeclaration tool, bool wrapped = true)
    {
        using var stream = new MemoryStream();
        using (var writer = new Utf8JsonWriter(stream))
        {
            if (wrapped)
            {
                writer.WriteStartObject();
                writer.WriteString("type", "function");
                writer.WritePropertyName("function");
            }

            writer.WriteStartObject();
            writer.WriteString("name", tool.Name);
            writer.WriteString("description", tool.Description ?? "");
            writer.WritePropertyName("parameters");
            (tool.JsonSchema.ValueKind == JsonValueKind.Object ? tool.JsonSchema : NoParameters).WriteTo(writer);
            writer.WriteEndObject();
            if (wrapped)
            {
                writer.WriteEndObject();
            }
        }

        using var document = JsonDocument.Parse(stream.ToArray());
        return document.RootElement.Clone();
    }

    /// <summary>The tool's parameters schema for its grammar; a tool without one (or with <c>{}</c>) takes no arguments.</summary>
    public static JsonElement Parameters(AIFunctionDeclaration tool) =>
        tool.JsonSchema.ValueKind == JsonValueKind.Object && tool.JsonSchema.EnumerateObject().Any() ? tool.JsonSchema : NoParameters;
}
