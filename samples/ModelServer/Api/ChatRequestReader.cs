using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelServer.Api;

/// <summary>Reads the chat-only parts of a request: messages (tool calls and results included), <c>response_format</c>, <c>tools</c>, <c>tool_choice</c>.</summary>
internal static class ChatRequestReader
{
    /// <summary>Most tools accepted per request.</summary>
    private const int MaxTools = 128;

    /// <summary><c>response_format</c>: text, <c>json_object</c> (any object), or <c>json_schema</c> (its <c>schema</c>, <c>name</c>, <c>description</c>).</summary>
    /// <remarks><c>strict</c> is accepted either way: the local models always enforce the whole schema.</remarks>
    public static ChatResponseFormat? ResponseFormat(JsonElement body)
    {
        if (!body.TryGetProperty("response_format", out var format) || format.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (format.ValueKind != JsonValueKind.Object)
        {
            throw RequestReader.Invalid("response_format", $"must be an object, got {RequestReader.Describe(format.ValueKind)}");
        }

        switch (RequestReader.String(format, "type"))
        {
            case "text":
                return ChatResponseFormat.Text;
            case "json_object":
                return ChatResponseFormat.Json;
            case "json_schema":
                if (!format.TryGetProperty("json_schema", out var spec) || spec.ValueKind != JsonValueKind.Object)
                {
                    throw RequestReader.Missing("response_format.json_schema");
                }

                if (!spec.TryGetProperty("schema", out var schema) || schema.ValueKind is not (JsonValueKind.Object or JsonValueKind.True))
                {
                    throw RequestReader.Invalid("response_format.json_schema.schema", "must be a JSON schema object");
                }

                return ChatResponseFormat.ForJsonSchema(schema.Clone(), Text(spec, "name", "response_format.json_schema.name"), Text(spec, "description", "response_format.json_schema.description"));
            case { } other:
                throw RequestReader.Invalid("response_format.type", $"'{other}' is not one of text, json_object, json_schema");
            default:
                throw RequestReader.Missing("response_format.type");
        }
    }

    /// <summary><c>tools</c>: functions, each with a <c>name</c>, an optional <c>description</c> and a <c>parameters</c> schema.</summary>
    public static List<AITool>? Tools(JsonElement body)
    {
        if (!body.TryGetProperty("tools", out var tools) || tools.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (tools.ValueKind != JsonValueKind.Array)
        {
            throw RequestReader.Invalid("tools", $"must be an array, got {RequestReader.Describe(tools.ValueKind)}");
        }

        if (tools.GetArrayLength() > MaxTools)
        {
            throw RequestReader.Invalid("tools", $"at most {MaxTools} tools are accepted");
        }

        var list = new List<AITool>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var i = 0;
        foreach (var tool in tools.EnumerateArray())
        {
            var param = $"tools[{i++}]";
            if (tool.ValueKind != JsonValueKind.Object || RequestReader.String(tool, "type") != "function")
            {
                throw RequestReader.Invalid(param, "must be {\"type\": \"function\", \"function\": {...}}; only function tools are supported");
            }

            if (!tool.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            {
                throw RequestReader.Missing(param + ".function");
            }

            var name = Text(function, "name", param + ".function.name") ?? throw RequestReader.Missing(param + ".function.name");
            if (name.Length is 0 or > 64 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                throw RequestReader.Invalid(param + ".function.name", "must be 1 to 64 letters, digits, underscores or dashes");
            }

            if (!names.Add(name))
            {
                throw RequestReader.Invalid(param + ".function.name", $"'{name}' is defined twice");
            }

            JsonElement parameters;
            if (!function.TryGetProperty("parameters", out parameters) || parameters.ValueKind == JsonValueKind.Null)
            {
                using var empty = JsonDocument.Parse("""{"type":"object","properties":{}}""");
                parameters = empty.RootElement.Clone();
            }
            else if (parameters.ValueKind != JsonValueKind.Object)
            {
                throw RequestReader.Invalid(param + ".function.parameters", "must be a JSON schema object");
            }

            list.Add(AIFunctionFactory.CreateDeclaration(name, Text(function, "description", param + ".function.description"), parameters.Clone()));
        }

        return list;
    }

    /// <summary><c>tool_choice</c>: <c>none</c>, <c>auto</c>, <c>required</c>, or <c>{"type":"function","function":{"name":…}}</c>.</summary>
    public static ChatToolMode? ToolChoice(JsonElement body)
    {
        if (!body.TryGetProperty("tool_choice", out var choice) || choice.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (choice.ValueKind == JsonValueKind.String)
        {
            return choice.GetString() switch
            {
                "none" => ChatToolMode.None,
                "auto" => ChatToolMode.Auto,
                "required" => ChatToolMode.RequireAny,
                var other => throw RequestReader.Invalid("tool_choice", $"'{other}' is not one of none, auto, required, or a function"),
            };
        }

        if (choice.ValueKind == JsonValueKind.Object && RequestReader.String(choice, "type") == "function"
            && choice.TryGetProperty("function", out var function) && function.ValueKind == JsonValueKind.Object
            && Text(function, "name", "tool_choice.function.name") is { } name)
        {
            return ChatToolMode.RequireSpecific(name);
        }

        throw RequestReader.Invalid("tool_choice", "must be none, auto, required, or {\"type\": \"function\", \"function\": {\"name\": ...}}");
    }

    /// <summary><c>parallel_tool_calls</c>: false allows one call per response.</summary>
    public static bool? ParallelToolCalls(JsonElement body) =>
        body.TryGetProperty("parallel_tool_calls", out var v) && v.ValueKind != JsonValueKind.Null ? RequestReader.Bool(body, "parallel_tool_calls") : null;

    /// <summary>The contents of message <paramref name="param"/> with role <paramref name="role"/>: its text, an assistant's <c>tool_calls</c>, a tool's result.</summary>
    public static List<AIContent> Contents(JsonElement message, ChatRole role, string text, string param)
    {
        var contents = new List<AIContent>();
        if (role == ChatRole.Tool)
        {
            var id = Text(message, "tool_call_id", param + ".tool_call_id") ?? throw RequestReader.Missing(param + ".tool_call_id");
            contents.Add(new FunctionResultContent(id, text));
            return contents;
        }

        if (text.Length > 0)
        {
            contents.Add(new TextContent(text));
        }

        if (!message.TryGetProperty("tool_calls", out var calls) || calls.ValueKind == JsonValueKind.Null)
        {
            return contents;
        }

        if (role != ChatRole.Assistant || calls.ValueKind != JsonValueKind.Array)
        {
            throw RequestReader.Invalid(param + ".tool_calls", "is an array, allowed on assistant messages only");
        }

        var i = 0;
        foreach (var call in calls.EnumerateArray())
        {
            var callParam = $"{param}.tool_calls[{i++}]";
            if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("function", out var function) || function.ValueKind != JsonValueKind.Object)
            {
                throw RequestReader.Invalid(callParam, "must be {\"id\": ..., \"type\": \"function\", \"function\": {\"name\": ..., \"arguments\": \"{...}\"}}");
            }

            var id = Text(call, "id", callParam + ".id") ?? throw RequestReader.Missing(callParam + ".id");
            var name = Text(function, "name", callParam + ".function.name") ?? throw RequestReader.Missing(callParam + ".function.name");
            var arguments = Text(function, "arguments", callParam + ".function.arguments") ?? "{}";
            Dictionary<string, object?>? parsed;
            try
            {
                parsed = JsonSerializer.Deserialize<Dictionary<string, object?>>(arguments);
            }
            catch (JsonException e)
            {
                throw RequestReader.Invalid(callParam + ".function.arguments", $"must be a JSON object in a string ({e.Message})");
            }

            contents.Add(new FunctionCallContent(id, name, parsed));
        }

        return contents;
    }

    private static string? Text(JsonElement obj, string name, string param) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw RequestReader.Invalid(param, $"must be a string, got {RequestReader.Describe(v.ValueKind)}")
            : null;
}
