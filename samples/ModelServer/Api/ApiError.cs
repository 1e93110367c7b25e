using System.Text.Json.Nodes;

namespace ModelServer.Api;

/// <summary>OpenAI-style error bodies: <c>{"error":{"message","type","param","code"}}</c>.</summary>
internal static class ApiError
{
    /// <summary>The error object itself, also sent as an SSE event when a stream fails.</summary>
    public static JsonObject Body(int status, string message, string? param = null, string? code = null) => new()
    {
        ["error"] = new JsonObject
        {
            ["message"] = message,
            ["type"] = status >= 500 ? "server_error" : "invalid_request_error",
            ["param"] = param,
            ["code"] = code,
        },
    };

    /// <summary>An error response with <paramref name="status"/>.</summary>
    public static IResult Result(int status, string message, string? param = null, string? code = null, int? retryAfterSeconds = null) =>
        new ErrorResult(status, Body(status, message, param, code), retryAfterSeconds);

    private sealed class ErrorResult(int status, JsonObject body, int? retryAfterSeconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.StatusCode = status;
            if (retryAfterSeconds is { } seconds)
            {
                httpContext.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            if (status == StatusCodes.Status401Unauthorized)
            {
                httpContext.Response.Headers.WWWAuthenticate = "Bearer";
            }

            httpContext.Response.ContentType = "application/json";
            return httpContext.Response.WriteAsync(Json.Text(body), httpContext.RequestAborted);
        }
    }
}
