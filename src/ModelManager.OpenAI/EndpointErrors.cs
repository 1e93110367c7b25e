using System.ClientModel;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Polly;
using Polly.CircuitBreaker;
using Polly.Timeout;

namespace ModelManager;

/// <summary>Decides which failures are transient, and turns whatever the SDK, HttpClient or Polly threw into a <see cref="ModelEndpointException"/>.</summary>
internal static class EndpointErrors
{
    private const int MaxDetailLength = 300;

    /// <summary>Connection failures, attempt timeouts and status 408, 429 and 5xx: worth retrying, and counted by the circuit breaker.</summary>
    public static bool IsTransient(Outcome<HttpResponseMessage> outcome) => outcome.Exception switch
    {
        null => outcome.Result is { } r && IsTransientStatus((int)r.StatusCode),
        TimeoutRejectedException => true,
        BrokenCircuitException => false, // fail over at once rather than retry an endpoint known to be down
        OperationCanceledException => false,
        HttpRequestException or IOException or SocketException => true,
        _ => false,
    };

    /// <summary>True for 408, 429 and 5xx.</summary>
    public static bool IsTransientStatus(int status) => status is 408 or 429 or >= 500;

    /// <summary>True when another endpoint may answer a call that failed this way; a request the server rejected as malformed would fail everywhere.</summary>
    public static bool ShouldFailOver(ModelEndpointException e) => !(e.Kind == EndpointFailureKind.HttpError && e.StatusCode is 400 or 413 or 422);

    /// <summary>
    /// Describes <paramref name="error"/> as an endpoint failure; every text is scrubbed of <paramref name="secrets"/>. <paramref name="stalledAfter"/>
    /// is set when our own stall timer cancelled the call after that much silence; <paramref name="midStream"/> when text had already been returned.
    /// </summary>
    public static ModelEndpointException Classify(Exception error, string model, OpenAIEndpoint endpoint, IReadOnlyList<Secret> secrets,
        TimeSpan? stalledAfter, bool midStream)
    {
        var url = endpoint.Url;
        var (kind, status, detail) = Describe(error, endpoint, stalledAfter, midStream);
        var message = kind switch
        {
            EndpointFailureKind.HttpError => $"Model '{model}': endpoint {url} answered HTTP {status} ({ReasonPhrase(status)}){(detail.Length > 0 ? ": " + detail : "")}{Hint(status, endpoint)}",
            EndpointFailureKind.Unreachable => $"Model '{model}': endpoint {url} is unreachable: {detail}",
            EndpointFailureKind.Timeout => $"Model '{model}': endpoint {url} {detail}",
            EndpointFailureKind.InvalidResponse => $"Model '{model}': endpoint {url} sent a response that is not the OpenAI wire format: {detail}",
            EndpointFailureKind.ConnectionLost => $"Model '{model}': the connection to endpoint {url} was lost {(midStream ? "mid-response" : "before the response completed")}: {detail}",
            _ => $"Model '{model}': endpoint {url} was skipped: it failed repeatedly in the last {endpoint.Health.BreakDuration.TotalSeconds:F0} s (circuit open)" +
                 (endpoint.Health.LastFailure is { } last ? $"; last failure: {last}" : ""),
        };

        var leaks = secrets.Any(s => s.IsIn(error.ToString()));
        message = Scrub(message, secrets);
        if (leaks)
        {
            message += " (the underlying error is withheld: it contained a credential)";
        }

        if (kind != EndpointFailureKind.CircuitOpen)
        {
            var prefix = $"Model '{model}': ";
            endpoint.Health.LastFailure = message.StartsWith(prefix, StringComparison.Ordinal) ? message[prefix.Length..] : message;
        }

        return new ModelEndpointException(model, url, kind, status, message, leaks ? null : error);
    }

    /// <summary>Redacts every secret in <paramref name="text"/>.</summary>
    public static string Scrub(string text, IReadOnlyList<Secret> secrets)
    {
        foreach (var s in secrets)
        {
            text = s.Scrub(text);
        }

        return text;
    }

    private static (EndpointFailureKind Kind, int? Status, string Detail) Describe(Exception error, OpenAIEndpoint endpoint, TimeSpan? stalledAfter, bool midStream)
    {
        if (stalledAfter is { } silence)
        {
            // Before the answer starts, the watchdog is the call's whole budget: a net under the per-attempt timeout, which
            // fires first unless timers run late on a busy machine. Either way no attempt answered within timeout_seconds.
            return (EndpointFailureKind.Timeout, null, midStream
                ? $"went silent for more than {Seconds(silence)} mid-stream (timeout_seconds)"
                : $"did not answer within {Seconds(endpoint.AttemptTimeout)} (timeout_seconds)");
        }

        for (var e = error; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case BrokenCircuitException:
                    return (EndpointFailureKind.CircuitOpen, null, "");
                case TimeoutRejectedException:
                    return (EndpointFailureKind.Timeout, null, $"did not answer within {Seconds(endpoint.AttemptTimeout)} (timeout_seconds)");
                case ClientResultException { Status: > 0 } cre:
                    return (EndpointFailureKind.HttpError, cre.Status, ErrorDetail(cre));
                case JsonException or FormatException:
                    return (EndpointFailureKind.InvalidResponse, null, OneLine(e.Message));
                case HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError or HttpRequestError.ProxyTunnelError } hre when !midStream:
                    return (EndpointFailureKind.Unreachable, null, OneLine(hre.Message));
                case HttpRequestException { HttpRequestError: HttpRequestError.InvalidResponse or HttpRequestError.VersionNegotiationError } hre:
                    return (EndpointFailureKind.InvalidResponse, null, OneLine(hre.Message));
                case HttpIOException or IOException:
                    return (EndpointFailureKind.ConnectionLost, null, OneLine(e.Message));
                case SocketException se:
                    return (midStream ? EndpointFailureKind.ConnectionLost : EndpointFailureKind.Unreachable, null, OneLine(se.Message));
                case OperationCanceledException:
                    // Not the caller's token (the caller's cancellation is never classified): the SDK's network timeout.
                    return (EndpointFailureKind.Timeout, null, $"did not complete within {Seconds(endpoint.CallBudget)} (timeout_seconds × attempts)");
            }
        }

        return error switch
        {
            HttpRequestException hre => (midStream ? EndpointFailureKind.ConnectionLost : EndpointFailureKind.Unreachable, null, OneLine(hre.Message)),
            InvalidOperationException or ArgumentException or KeyNotFoundException or InvalidCastException or NotSupportedException =>
                (EndpointFailureKind.InvalidResponse, null, $"{error.GetType().Name}: {OneLine(error.Message)}"),
            _ => (EndpointFailureKind.InvalidResponse, null, $"{error.GetType().Name}: {OneLine(error.Message)}"),
        };
    }

    /// <summary>The server's own error message when it sent OpenAI-style error JSON, else the start of the body.</summary>
    private static string ErrorDetail(ClientResultException e)
    {
        string? body = null;
        try
        {
            body = e.GetRawResponse()?.Content?.ToString();
        }
        catch (InvalidOperationException)
        {
            // The body was not buffered (a streamed response); the status has to do.
        }

        if (string.IsNullOrWhiteSpace(body))
        {
            return "";
        }

        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var err))
            {
                if (err.ValueKind == JsonValueKind.Object && err.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                {
                    return Truncate(OneLine(m.GetString()!));
                }

                if (err.ValueKind == JsonValueKind.String)
                {
                    return Truncate(OneLine(err.GetString()!));
                }
            }
        }
        catch (JsonException)
        {
            // Not JSON: show the start of the body.
        }

        return body.TrimStart().StartsWith('<') ? "an HTML page (is the endpoint's /v1 path right?)" : Truncate(OneLine(body));
    }

    private static string Hint(int? status, OpenAIEndpoint endpoint) => status switch
    {
        401 or 403 => "; check the key (api_key_env)",
        404 => $"; check the model id '{endpoint.RemoteModel}' ('model') and that the endpoint's URL ends with /v1",
        _ => "",
    };

    private static string ReasonPhrase(int? status) => status is { } s && Enum.IsDefined(typeof(HttpStatusCode), s)
        ? System.Text.RegularExpressions.Regex.Replace(((HttpStatusCode)s).ToString(), "(?<=[a-z])(?=[A-Z])", " ")
        : "unknown status";

    private static string Seconds(TimeSpan t) => t.TotalSeconds >= 10 ? $"{t.TotalSeconds:F0} s" : $"{t.TotalSeconds:0.##} s";

    private static string OneLine(string text) => string.Join(' ', text.Split((char[])['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries)).Trim();

    private static string Truncate(string text) => text.Length <= MaxDetailLength ? text : text[..MaxDetailLength] + "…";
}
