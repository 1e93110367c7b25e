using System.Text.Json;
using System.Text.Json.Nodes;
using ModelManager;

namespace ModelServer.Api;

/// <summary>
/// What both completion endpoints do: read and check the request, generate whole or as server-sent events, and wrap
/// each result in OpenAI's envelope. A derived endpoint supplies its input (a prompt, messages), the generation and its choice objects.
/// </summary>
/// <typeparam name="TInput">What the endpoint generates from.</typeparam>
/// <param name="loggerName">The logger category.</param>
/// <param name="idPrefix">The response id's prefix (<c>cmpl-</c>, <c>chatcmpl-</c>).</param>
/// <param name="responseObject">The <c>object</c> of a whole response.</param>
/// <param name="chunkObject">The <c>object</c> of a streamed chunk.</param>
internal abstract class CompletionEndpoint<TInput>(string loggerName, string idPrefix, string responseObject, string chunkObject)
{
    public async Task HandleAsync(HttpContext context, IModelManager manager, ILoggerFactory loggers)
    {
        var logger = loggers.CreateLogger(loggerName);
        var cancellationToken = context.RequestAborted;
        string name;
        ILanguageModel model;
        TInput input;
        GenerationOptions options;
        bool stream;
        try
        {
            var body = await RequestReader.ReadObjectAsync(context.Request, cancellationToken);
            (name, model) = RequestReader.Model(body, manager);
            input = ReadInput(body);
            options = RequestReader.Options(body);
            stream = RequestReader.Bool(body, "stream");
            RejectUnsupported(body);
        }
        catch (ApiException e)
        {
            await e.ToResult().ExecuteAsync(context);
            return;
        }

        var id = idPrefix + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        JsonObject Envelope(string @object, string served, JsonObject choice) => new()
        {
            ["id"] = id,
            ["object"] = @object,
            ["created"] = created,
            ["model"] = served,
            ["choices"] = new JsonArray(choice),
        };

        if (stream)
        {
            // A fallback may serve instead of the requested model; the pieces say which, and later chunks name it.
            var served = name;
            await ServerSentEvents.StreamAsync(
                context,
                GenerateStreamingAsync(model, input, options, cancellationToken),
                OpeningChoice() is { } opening ? Envelope(chunkObject, name, opening) : null,
                piece =>
                {
                    served = piece.ModelId ?? served;
                    return piece.Text.Length > 0 ? Envelope(chunkObject, served, ChunkChoice(piece.Text)) : null;
                },
                () => Envelope(chunkObject, served, ClosingChoice()),
                logger);
            return;
        }

        Generation result;
        try
        {
            result = await GenerateAsync(model, input, options, cancellationToken);
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

        await Json.Ok(Envelope(responseObject, result.ModelId ?? name, ResponseChoice(result.Text))).ExecuteAsync(context);
    }

    /// <summary>Reads what the model generates from (right after <c>model</c>, before the generation settings).</summary>
    protected abstract TInput ReadInput(JsonElement body);

    /// <summary>Fails with 400 on fields naming a feature this endpoint does not offer (read last).</summary>
    protected abstract void RejectUnsupported(JsonElement body);

    protected abstract Task<Generation> GenerateAsync(ILanguageModel model, TInput input, GenerationOptions options, CancellationToken cancellationToken);

    protected abstract IAsyncEnumerable<Generation> GenerateStreamingAsync(ILanguageModel model, TInput input, GenerationOptions options, CancellationToken cancellationToken);

    /// <summary>The one choice of a whole response.</summary>
    protected abstract JsonObject ResponseChoice(string text);

    /// <summary>The choice of a chunk sent before the first piece, or null for none.</summary>
    protected virtual JsonObject? OpeningChoice() => null;

    /// <summary>The choice of a chunk carrying one generated piece.</summary>
    protected abstract JsonObject ChunkChoice(string text);

    /// <summary>The choice of the last chunk, which carries the finish reason.</summary>
    protected abstract JsonObject ClosingChoice();

    /// <summary>Generated text, and the model that served it when the generation says (a fallback may serve instead).</summary>
    protected readonly record struct Generation(string Text, string? ModelId);
}
