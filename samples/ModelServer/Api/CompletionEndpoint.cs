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
        bool includeUsage;
        try
        {
            var body = await RequestReader.ReadObjectAsync(context.Request, cancellationToken);
            (name, model) = RequestReader.Model(body, manager);
            input = ReadInput(body);
            options = ReadChatOptions(body, RequestReader.Options(body));
            stream = RequestReader.Bool(body, "stream");
            includeUsage = RequestReader.StreamOptions(body, stream);
            RejectUnsupported(body);
        }
        catch (ApiException e)
        {
            await e.ToResult().ExecuteAsync(context);
            return;
        }
        catch (InvalidOperationException e) when (e.Message.Contains("UTF-", StringComparison.Ordinal) || e.Message.Contains("surrogate", StringComparison.OrdinalIgnoreCase)
                                                  || e.InnerException is System.Text.DecoderFallbackException or System.Text.EncoderFallbackException)
        {
            // A JSON string with a lone surrogate (\ud800) parses, but cannot become .NET text.
            await new ApiException(StatusCodes.Status400BadRequest, $"The request body holds a string that is not valid Unicode (a lone surrogate escape?): {e.Message}").ToResult().ExecuteAsync(context);
            return;
        }

        var id = idPrefix + Guid.NewGuid().ToString("N");
        var created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        JsonObject Envelope(string @object, string served, JsonObject? choice)
        {
            var envelope = new JsonObject
            {
                ["id"] = id,
                ["object"] = @object,
                ["created"] = created,
                ["model"] = served,
                ["choices"] = choice is null ? new JsonArray() : new JsonArray(choice),
            };
            if (includeUsage)
            {
                envelope["usage"] = null; // as OpenAI: every chunk but the last has "usage": null
            }

            return envelope;
        }

        if (stream)
        {
            // A fallback may serve instead of the requested model; the pieces say which, and later chunks name it.
            var served = name;
            Ending? ending = null;
            var callIndex = 0;
            await ServerSentEvents.StreamAsync(
                context,
                Translated(GenerateStreamingAsync(model, input, options, cancellationToken), cancellationToken),
                first =>
                {
                    served = first.ModelId ?? served;
                    return OpeningChoice() is { } opening ? Envelope(chunkObject, served, opening) : null;
                },
                piece =>
                {
                    served = piece.ModelId ?? served;
                    ending = piece.End ?? ending;
                    return ChunkChoice(piece, ref callIndex) is { } choice ? Envelope(chunkObject, served, choice) : null;
                },
                () => Envelope(chunkObject, served, ClosingChoice(FinishReason(ending))),
                includeUsage ? () => WithUsage(Envelope(chunkObject, served, null), ending) : null,
                logger);
            return;
        }

        Generation result;
        try
        {
            result = await GenerateAsync(model, input, options, cancellationToken);
        }
        catch (ContextLengthExceededException e)
        {
            await ServerSentEvents.FailAsync(context, ContextError(e), logger);
            return;
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

        var response = Envelope(responseObject, result.ModelId ?? name, ResponseChoice(result, FinishReason(result.End)));
        await Json.Ok(WithUsage(response, result.End)).ExecuteAsync(context);
    }

    /// <summary>OpenAI's finish reason: <c>length</c> when a limit (max_tokens, the context) cut the text, <c>tool_calls</c> when the model called tools, else <c>stop</c>.</summary>
    private static string FinishReason(Ending? ending) => ending switch
    {
        { Truncated: true } => "length",
        { ToolCalls: true } => "tool_calls",
        _ => "stop",
    };

    /// <summary>Adds OpenAI's <c>usage</c>; null when the model could not count (a remote server that sent none).</summary>
    private static JsonObject WithUsage(JsonObject envelope, Ending? ending)
    {
        envelope["usage"] = ending is { PromptTokens: { } prompt, CompletionTokens: { } completion }
            ? new JsonObject
            {
                ["prompt_tokens"] = prompt,
                ["completion_tokens"] = completion,
                ["total_tokens"] = prompt + completion,
                ["prompt_tokens_details"] = new JsonObject { ["cached_tokens"] = ending.CachedTokens ?? 0 },
            }
            : null;
        return envelope;
    }

    /// <summary>Reads what the model generates from (right after <c>model</c>, before the generation settings).</summary>
    protected abstract TInput ReadInput(JsonElement body);

    /// <summary>The request field that holds what the model reads (<c>messages</c>, <c>prompt</c>), named in a context-length error.</summary>
    protected abstract string InputParam { get; }

    /// <summary>OpenAI's answer to a prompt that does not fit: 400 <c>context_length_exceeded</c> naming the input field.</summary>
    private ApiException ContextError(ContextLengthExceededException e) =>
        new(StatusCodes.Status400BadRequest, e.Message, InputParam, "context_length_exceeded");

    /// <summary>The generation with its context-length error turned into OpenAI's, as the whole-response path does.</summary>
    private async IAsyncEnumerable<Generation> Translated(IAsyncEnumerable<Generation> source, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var e = source.GetAsyncEnumerator(cancellationToken);
        while (true)
        {
            try
            {
                if (!await e.MoveNextAsync())
                {
                    yield break;
                }
            }
            catch (ContextLengthExceededException c)
            {
                throw ContextError(c);
            }

            yield return e.Current;
        }
    }

    /// <summary>Adds what only chat requests carry (response format, tools) to the common settings; none by default.</summary>
    protected virtual GenerationOptions ReadChatOptions(JsonElement body, GenerationOptions options) => options;

    /// <summary>Fails with 400 on fields naming a feature this endpoint does not offer (read last).</summary>
    protected abstract void RejectUnsupported(JsonElement body);

    protected abstract Task<Generation> GenerateAsync(ILanguageModel model, TInput input, GenerationOptions options, CancellationToken cancellationToken);

    protected abstract IAsyncEnumerable<Generation> GenerateStreamingAsync(ILanguageModel model, TInput input, GenerationOptions options, CancellationToken cancellationToken);

    /// <summary>The one choice of a whole response.</summary>
    protected abstract JsonObject ResponseChoice(Generation result, string finishReason);

    /// <summary>The choice of a chunk sent before the first piece, or null for none.</summary>
    protected virtual JsonObject? OpeningChoice() => null;

    /// <summary>The choice of a chunk carrying one generated piece (text, or tool calls numbered from <paramref name="callIndex"/> on), or null when it carries nothing.</summary>
    protected abstract JsonObject? ChunkChoice(Generation piece, ref int callIndex);

    /// <summary>The choice of the last chunk, which carries the finish reason.</summary>
    protected abstract JsonObject ClosingChoice(string finishReason);

    /// <summary>Generated text or tool calls, the model that served it when the generation says (a fallback may serve instead), and how it ended (on the last one).</summary>
    protected readonly record struct Generation(string Text, string? ModelId, Ending? End = null, IReadOnlyList<Microsoft.Extensions.AI.FunctionCallContent>? Calls = null);

    /// <summary>How a generation ended: cut by a limit or not, with tool calls or not, and its token counts (null when the model cannot count).</summary>
    protected sealed record Ending(bool Truncated, long? PromptTokens, long? CompletionTokens, long? CachedTokens, bool ToolCalls = false);
}
