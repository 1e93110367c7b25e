using System.Text.Json;
using System.Text.Json.Nodes;
using ModelManager;

namespace ModelServer.Api;

/// <summary><c>POST /v1/completions</c>: a raw prompt continued by the model, no chat template; whole or streamed.</summary>
internal static class CompletionsEndpoint
{
    public static async Task HandleAsync(HttpContext context, IModelManager manager, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger("ModelServer.Completions");
        var cancellationToken = context.RequestAborted;
        string name;
        ILanguageModel model;
        string prompt;
        GenerationOptions options;
        bool stream;
        try
        {
            var body = await RequestReader.ReadObjectAsync(context.Request, cancellationToken);
            (name, model) = RequestReader.Model(body, manager);
            prompt = ReadPrompt(body);
            options = RequestReader.Options(body);
            stream = RequestReader.Bool(body, "stream");
            RequestReader.Unsupported(body, "echo", "suffix", "logprobs");
            RequestReader.OnlyOne(body, "best_of");
        }
        catch (ApiException e)
        {
            await e.ToResult().ExecuteAsync(context);
            return;
        }

        var id = "cmpl-" + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        if (stream)
        {
            await ServerSentEvents.StreamAsync(
                context,
                model.GenerateStreamingAsync(prompt, options, cancellationToken),
                opening: null,
                piece => piece.Length > 0 ? Completion(id, created, name, piece, null) : null,
                () => Completion(id, created, name, "", "stop"),
                logger);
            return;
        }

        string text;
        try
        {
            text = await model.GenerateAsync(prompt, options, cancellationToken);
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

        await Json.Ok(Completion(id, created, name, text, "stop")).ExecuteAsync(context);
    }

    private static JsonObject Completion(string id, long created, string model, string text, string? finishReason) => new()
    {
        ["id"] = id,
        ["object"] = "text_completion",
        ["created"] = created,
        ["model"] = model,
        ["choices"] = new JsonArray(new JsonObject
        {
            ["text"] = text,
            ["index"] = 0,
            ["logprobs"] = null,
            ["finish_reason"] = finishReason,
        }),
    };

    private static string ReadPrompt(JsonElement body)
    {
        if (!body.TryGetProperty("prompt", out var prompt) || prompt.ValueKind == JsonValueKind.Null)
        {
            throw RequestReader.Missing("prompt");
        }

        return prompt.ValueKind switch
        {
            JsonValueKind.String => prompt.GetString()!,
            JsonValueKind.Array when prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String => prompt[0].GetString()!,
            JsonValueKind.Array => throw RequestReader.Invalid("prompt", "exactly one prompt string is supported (no batches, no token arrays)"),
            _ => throw RequestReader.Invalid("prompt", $"must be a string, got {RequestReader.Describe(prompt.ValueKind)}"),
        };
    }
}
