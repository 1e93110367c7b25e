using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using ModelManager;

namespace ModelServer.Api;

/// <summary><c>POST /v1/chat/completions</c>: the model's chat client (its chat template applied), whole or streamed.</summary>
internal static class ChatCompletionsEndpoint
{
    public static async Task HandleAsync(HttpContext context, IModelManager manager, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("ModelServer.ChatCompletions");
        var cancellationToken = context.RequestAborted;
        string name;
        IChatClient chat;
        List<ChatMessage> messages;
        ChatOptions options;
        bool stream;
        try
        {
            var body = await RequestReader.ReadObjectAsync(context.Request, cancellationToken);
            (name, var model) = RequestReader.Model(body, manager);
            messages = ReadMessages(body);
            options = ToChatOptions(RequestReader.Options(body));
            stream = RequestReader.Bool(body, "stream");
            RequestReader.Unsupported(body, "tools", "functions", "logprobs", "audio");
            chat = model.AsChatClient();
        }
        catch (ApiException e)
        {
            await e.ToResult().ExecuteAsync(context);
            return;
        }

        var id = "chatcmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (stream)
        {
            var served = name;
            await ServerSentEvents.StreamAsync(
                context,
                chat.GetStreamingResponseAsync(messages, options, cancellationToken),
                Chunk(id, created, name, new JsonObject { ["role"] = "assistant", ["content"] = "" }, null),
                update =>
                {
                    served = update.ModelId ?? served;
                    return update.Text.Length > 0 ? Chunk(id, created, served, new JsonObject { ["content"] = update.Text }, null) : null;
                },
                () => Chunk(id, created, served, [], "stop"),
                logger);
            return;
        }

        ChatResponse response;
        try
        {
            response = await chat.GetResponseAsync(messages, options, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e)
        {
            await ServerSentEvents.FailAsync(context, e, logger);
            return;
        }

        var result = new JsonObject
        {
            ["id"] = id,
            ["object"] = "chat.completion",
            ["created"] = created,
            ["model"] = response.ModelId ?? name,
            ["choices"] = new JsonArray(new JsonObject
            {
                ["index"] = 0,
                ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = response.Text },
                ["logprobs"] = null,
                ["finish_reason"] = "stop",
            }),
        };
        await Json.Ok(result).ExecuteAsync(context);
    }

    private static JsonObject Chunk(string id, long created, string model, JsonObject delta, string? finishReason) => new()
    {
        ["id"] = id,
        ["object"] = "chat.completion.chunk",
        ["created"] = created,
        ["model"] = model,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["index"] = 0,
            ["delta"] = delta,
            ["logprobs"] = null,
            ["finish_reason"] = finishReason,
        }),
    };

    private static ChatOptions ToChatOptions(GenerationOptions o) => new()
    {
        MaxOutputTokens = o.MaxTokens,
        Temperature = (float?)o.Temperature,
        TopP = (float?)o.TopP,
        TopK = o.TopK,
        Seed = o.Seed,
        StopSequences = o.StopSequences,
    };

    private static List<ChatMessage> ReadMessages(JsonElement body)
    {
        if (!body.TryGetProperty("messages", out var array) || array.ValueKind == JsonValueKind.Null)
        {
            throw RequestReader.Missing("messages");
        }

        if (array.ValueKind != JsonValueKind.Array || array.GetArrayLength() == 0)
        {
            throw RequestReader.Invalid("messages", "must be a non-empty array of messages");
        }

        var messages = new List<ChatMessage>();
        var i = 0;
        foreach (var item in array.EnumerateArray())
        {
            var param = $"messages[{i++}]";
            if (item.ValueKind != JsonValueKind.Object)
            {
                throw RequestReader.Invalid(param, $"must be an object, got {RequestReader.Describe(item.ValueKind)}");
            }

            var role = RequestReader.String(item, "role") ?? throw RequestReader.Missing(param + ".role");
            var chatRole = role switch
            {
                "system" or "developer" => ChatRole.System,
                "user" => ChatRole.User,
                "assistant" => ChatRole.Assistant,
                "tool" => ChatRole.Tool,
                _ => throw RequestReader.Invalid(param + ".role", $"'{role}' is not one of system, developer, user, assistant, tool"),
            };
            messages.Add(new ChatMessage(chatRole, ReadContent(item, param)));
        }

        return messages;
    }

    private static string ReadContent(JsonElement message, string param)
    {
        if (!message.TryGetProperty("content", out var content) || content.ValueKind == JsonValueKind.Null)
        {
            return "";
        }

        if (content.ValueKind == JsonValueKind.String)
        {
            return content.GetString()!;
        }

        if (content.ValueKind != JsonValueKind.Array)
        {
            throw RequestReader.Invalid(param + ".content", "must be a string or an array of text parts");
        }

        var text = new StringBuilder();
        foreach (var part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || RequestReader.String(part, "type") != "text" || RequestReader.String(part, "text") is not { } piece)
            {
                throw RequestReader.Invalid(param + ".content", "only text parts ({\"type\":\"text\",\"text\":\"...\"}) are supported");
            }

            text.Append(piece);
        }

        return text.ToString();
    }
}
