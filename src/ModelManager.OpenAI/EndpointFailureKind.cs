namespace ModelManager;

/// <summary>How an OpenAI-compatible endpoint failed; carried by <see cref="ModelEndpointException"/>.</summary>
public enum EndpointFailureKind
{
    /// <summary>No connection could be made: refused, unreachable host, name resolution or TLS failure.</summary>
    Unreachable,

    /// <summary>No response within <c>timeout_seconds</c>, or a stream fell silent for longer than that.</summary>
    Timeout,

    /// <summary>The endpoint answered with an HTTP error status (see <see cref="ModelEndpointException.StatusCode"/>).</summary>
    HttpError,

    /// <summary>The endpoint answered with something that is not the OpenAI wire format (malformed JSON, an HTML page, ...).</summary>
    InvalidResponse,

    /// <summary>The connection dropped, or the stream ended, before the response was complete.</summary>
    ConnectionLost,

    /// <summary>Not tried: the endpoint kept failing recently, so its circuit is open for <c>OpenAIOptions.BreakDuration</c>.</summary>
    CircuitOpen,
}
