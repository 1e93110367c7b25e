using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http.Features;

namespace ModelServer.Api;

/// <summary>Streams a generation as OpenAI-style server-sent events: <c>data: {json}</c> chunks, then <c>data: [DONE]</c>; and the frames <c>/v1/events</c> writes.</summary>
internal static class ServerSentEvents
{
    /// <summary>
    /// Pulls the first item before sending any header, so that a model that cannot load still gets a proper error status;
    /// then streams one chunk per item, the closing chunk and, when asked (<c>stream_options.include_usage</c>), the usage chunk.
    /// A failure after the first chunk is sent as an error event, and the stream ends without [DONE].
    /// </summary>
    public static async Task StreamAsync<T>(HttpContext context, IAsyncEnumerable<T> source, Func<T, JsonObject?> opening, Func<T, JsonObject?> chunk,
        Func<JsonObject> closing, Func<JsonObject>? usage, ILogger logger)
    {
        var cancellationToken = context.RequestAborted;
        await using var items = source.GetAsyncEnumerator(cancellationToken);
        bool more;
        try
        {
            more = await items.MoveNextAsync();
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return; // the client left before the first token
        }
        catch (Exception e)
        {
            await FailAsync(context, e, logger);
            return;
        }

        Begin(context);
        try
        {
            // Built from the first item, which says which model serves (a fallback's name when one does).
            if (more && opening(items.Current) is { } first)
            {
                await WriteAsync(context, Json.Text(first), cancellationToken);
            }

            while (more)
            {
                if (chunk(items.Current) is { } json)
                {
                    await WriteAsync(context, Json.Text(json), cancellationToken);
                }

                more = await items.MoveNextAsync();
            }

            await WriteAsync(context, Json.Text(closing()), cancellationToken);
            if (usage is not null)
            {
                await WriteAsync(context, Json.Text(usage()), cancellationToken);
            }

            await WriteAsync(context, "[DONE]", cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client disconnected: leaving the loop disposes the generation, which cancels it and releases the model.
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            var (status, message, param, code, _) = ApiErrors.Describe(e);
            Log(logger, status, e);
            await WriteAsync(context, Json.Text(ApiError.Body(status, message, param, code)), CancellationToken.None);
        }
    }

    /// <summary>Writes the error response for a request that failed before streaming began.</summary>
    public static Task FailAsync(HttpContext context, Exception error, ILogger logger)
    {
        var (status, _, _, _, _) = ApiErrors.Describe(error);
        Log(logger, status, error);
        return ApiErrors.Result(error).ExecuteAsync(context);
    }

    private static void Log(ILogger logger, int status, Exception error)
    {
        if (status >= 500)
        {
            ServerLog.Failed(logger, status, error);
        }
        else
        {
            ServerLog.Rejected(logger, status, error.Message);
        }
    }

    /// <summary>Sends the headers of an event stream (200, <c>text/event-stream</c>, no caching or buffering on the way).</summary>
    public static void Begin(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
    }

    /// <summary>Writes one whole frame (its lines and the blank line that ends it) and flushes it to the client.</summary>
    public static async Task WriteFrameAsync(HttpContext context, string frame, CancellationToken cancellationToken)
    {
        await context.Response.WriteAsync(frame, cancellationToken);
        await context.Response.Body.FlushAsync(cancellationToken);
    }

    private static Task WriteAsync(HttpContext context, string data, CancellationToken cancellationToken) =>
        WriteFrameAsync(context, $"data: {data}\n\n", cancellationToken);
}
