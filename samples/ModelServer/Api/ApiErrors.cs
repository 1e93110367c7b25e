using ModelManager;

namespace ModelServer.Api;

/// <summary>Maps what a generation threw to an OpenAI-style HTTP error.</summary>
internal static class ApiErrors
{
    /// <summary>Seconds a client is told to wait (<c>Retry-After</c>) when memory is short or the model is being unloaded.</summary>
    public const int RetryAfterSeconds = 5;

    /// <summary>The status, message and code for <paramref name="error"/>; 500 for anything unexpected.</summary>
    public static (int Status, string Message, string? Param, string? Code, int? RetryAfter) Describe(Exception error)
    {
        switch (error)
        {
            case ApiException api:
                return (api.Status, api.Message, api.Param, api.Code, null);
            case ModelNotFoundException nf:
                return (StatusCodes.Status404NotFound, $"The model '{nf.ModelName}' does not exist or you do not have access to it.", "model", "model_not_found", null);
            case ModelBusyException busy:
                return (StatusCodes.Status503ServiceUnavailable, busy.Message, null, "model_busy", Math.Max(1, (int)Math.Ceiling(busy.RetryAfter.TotalSeconds)));
            case ModelUnloadedException:
                return (StatusCodes.Status503ServiceUnavailable, error.Message, null, "model_unloaded", RetryAfterSeconds);
            case ObjectDisposedException:
                return (StatusCodes.Status503ServiceUnavailable, "The server is shutting down.", null, "shutting_down", RetryAfterSeconds);
            case ModelEndpointException endpoint:
                return Upstream(endpoint);
            case ModelLoadException load when Causes(load).OfType<ModelEndpointException>().FirstOrDefault() is { } endpoint:
                return Upstream(endpoint, load.Message);
            case ModelLoadException load when Causes(load).OfType<ModelMemoryException>().Any() && Causes(load).OfType<ModelMemoryException>().All(m => m.CanNeverFit):
                // Permanent: the model (and every fallback) needs more than the whole budget, so a retry cannot help.
                return (StatusCodes.Status507InsufficientStorage, $"The model can never fit in this server's memory budget: {load.Message}", null, "model_too_large", null);
            case ModelLoadException load when Causes(load).OfType<ModelLoadException>().All(e => e is ModelMemoryException || e.InnerException is AggregateException):
                return (StatusCodes.Status503ServiceUnavailable, $"Not enough memory for the model right now: {load.Message}", null, "insufficient_memory", RetryAfterSeconds);
            case ModelLoadException load:
                return (StatusCodes.Status500InternalServerError, load.Message, null, "model_load_failed", null);
            case NotSupportedException unsupported:
                return (StatusCodes.Status400BadRequest, unsupported.Message, null, "unsupported_option", null);
            case ArgumentException arg:
                return (StatusCodes.Status400BadRequest, arg.Message, null, "invalid_request", null);
            default:
                return (StatusCodes.Status500InternalServerError, "The server had an error while processing your request.", null, null, null);
        }
    }

    /// <summary>The error response for <paramref name="error"/>.</summary>
    public static IResult Result(Exception error)
    {
        var (status, message, param, code, retryAfter) = Describe(error);
        return ApiError.Result(status, message, param, code, retryAfter);
    }

    private static (int, string, string?, string?, int?) Upstream(ModelEndpointException e, string? message = null) =>
        (e.Kind == EndpointFailureKind.Timeout ? StatusCodes.Status504GatewayTimeout : StatusCodes.Status502BadGateway, message ?? e.Message, null, "upstream_error",
            e.IsTransient ? RetryAfterSeconds : null);

    private static IEnumerable<Exception> Causes(Exception error)
    {
        var pending = new Stack<Exception>();
        pending.Push(error);
        while (pending.Count > 0)
        {
            var e = pending.Pop();
            yield return e;
            if (e is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions)
                {
                    pending.Push(inner);
                }
            }
            else if (e.InnerException is { } inner)
            {
                pending.Push(inner);
            }
        }
    }
}
