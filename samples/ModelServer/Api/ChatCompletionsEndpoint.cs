using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.AI;
using ModelManager;

namespace ModelServer.Api;

/// <summary><c>POST /v1/chat/completions</c>: the model's chat client (its chat template applied), whole or streamed.</summary>
internal sealed class ChatCompletionsEndpoint()
    : CompletionEndpoint<List<ChatMessage>>("ModelServer.ChatCompletions", "chatcmpl-", "chat.completion", "chat.completion.chunk")
{
    // Arguments are sent as compact JSON text, as OpenAI sends them.
    private static readonly JsonSerializerOptions CompactArguments = new(AIJsonUtilities.DefaultOptions) { WriteIndented = false };

    protected override string InputParam => "messages";

    protected override List<ChatMessage> ReadInput(JsonElement body) => ReadMessages(body);

    protected override GenerationOptions ReadChatOptions(JsonElement body, GenerationOptions options) => options with
    {
        ResponseFormat = ChatRequestReader.ResponseFormat(body),
        Tools = ChatRequestReader.Tools(body),
        ToolMode = ChatRequestReader.ToolChoice(body),
        AllowMultipleToolCalls = ChatRequestReader.ParallelToolCalls(body),
    };

    protected override void RejectUnsupported(JsonElement body)
    {
        RequestReader.Unsupported(body, "functions", "function_call", "logprobs", "audio");
        RequestReader.Unhonoured(body);
    }

    protected override async Task<Generation> GenerateAsync(ILanguageModel model, List<ChatMessage> input, GenerationOptions options, CancellationToken cancellationToken)
    {
        var response = await model.AsChatClient().GetResponseAsync(input, ToChatOptions(options), cancellationToken);
        var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();
        return new Generation(response.Text, response.ModelId, ToEnding(response.FinishReason, response.Usage), calls);
    }

    protected override async IAsyncEnumerable<Generation> GenerateStreamingAsync(ILanguageModel model, List<ChatMessage> input, GenerationOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var update in model.AsChatClient().GetStreamingResponseAsync(input, ToChatOptions(options), cancellationToken))
        {
            var calls = update.Contents.OfType<FunctionCallContent>().ToList();
            yield return new Generation(update.Text, update.ModelId,
                update.FinishReason is { } reason ? ToEnding(reason, update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details) : null,
                calls.Count > 0 ? calls : null);
        }
    }

    protected override JsonObject ResponseChoice(Generation result, string finishReason)
    {
        var message = new JsonObject { ["role"] = "assistant", ["content"] = result.Calls is { Count: > 0 } && result.Text.Length == 0 ? null : result.Text };
        if (result.Calls is { Count: > 0 } calls)
        {
            message["tool_calls"] = new JsonArray([.. calls.Select(c => ToolCall(c, null))]);
        }

        return Choice("message", message, finishReason);
    }

    protected override JsonObject OpeningChoice() => Choice("delta", new JsonObject { ["role"] = "assistant", ["content"] = "" }, null);

    protected override JsonObject? ChunkChoice(Generation piece, ref int callIndex)
    {
        if (piece.Calls is { Count: > 0 } calls)
        {
            // OpenAI streams a call's id and name first and its arguments after; one chunk per call carries all three.
            var array = new JsonArray();
            foreach (var call in calls)
            {
                array.Add(ToolCall(call, callIndex++));
            }

            return Choice("delta", new JsonObject { ["tool_calls"] = array }, null);
        }

        return piece.Text.Length > 0 ? Choice("delta", new JsonObject { ["content"] = piece.Text }, null) : null;
    }

    protected override JsonObject ClosingChoice(string finishReason) => Choice("delta", [], finishReason);

    private static JsonObject ToolCall(FunctionCallContent call, int? index)
    {
        var json = new JsonObject();
        if (index is { } i)
        {
            json["index"] = i;
        }

        json["id"] = call.CallId;
        json["type"] = "function";
        json["function"] = new JsonObject
        {
            ["name"] = call.Name,
            ["arguments"] = JsonSerializer.Serialize(call.Arguments ?? new Dictionary<string, object?>(), CompactArguments),
        };
        return json;
    }

    private static Ending ToEnding(ChatFinishReason? reason, UsageDetails? usage) =>
        new(reason == ChatFinishReason.Length, usage?.InputTokenCount, usage?.OutputTokenCount, usage?.CachedInputTokenCount, reason == ChatFinishReason.ToolCalls);

    private static JsonObject Choice(string key, JsonObject message, string? finishReason) => new()
    {
        ["index"] = 0,
        [key] = message,
        ["logprobs"] = null,
        ["finish_reason"] = finishReason,
    };

    private static ChatOptions ToChatOptions(GenerationOptions o) => new()
    {
        MaxOutputTokens = o.MaxTokens,
        Temperature = (float?)o.Temperature,
        TopP = (float?)o.TopP,
        TopK = o.TopK,
        Seed = o.Seed,
        StopSequences = o.StopSequences,
        ResponseFormat = o.ResponseFormat,
        Tools = o.Tools,
        ToolMode = o.ToolMode,
        AllowMultipleToolCalls = o.AllowMultipleToolCalls,
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
            messages.Add(new ChatMessage(chatRole, ChatRequestReader.Contents(item, chatRole, ReadContent(item, param), param)));
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
