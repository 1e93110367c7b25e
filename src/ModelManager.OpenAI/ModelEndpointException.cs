namespace ModelManager;

/// <summary>An OpenAI-compatible endpoint failed a call after retries and failover; names the endpoint, the status and why.</summary>
/// <remarks>
/// When several endpoints were tried, <see cref="Failures"/> holds one exception per endpoint, in the order tried, and the
/// other properties describe the last one. Messages never hold the API key: text that contained it is redacted or dropped.
/// </remarks>
public sealed class ModelEndpointException : ModelUnavailableException
{
    /// <summary>Creates the exception for one endpoint's failure.</summary>
    public ModelEndpointException(string modelName, Uri endpoint, EndpointFailureKind kind, int? statusCode, string message, Exception? innerException = null)
        : base(modelName, message, innerException)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        Endpoint = endpoint;
        Kind = kind;
        StatusCode = statusCode;
        Failures = [this];
    }

    /// <summary>Creates the exception for a call on which every endpoint in <paramref name="failures"/> failed.</summary>
    public ModelEndpointException(string modelName, string message, IReadOnlyList<ModelEndpointException> failures)
        : base(modelName, message, failures is { Count: > 0 } ? failures[^1].InnerException : null)
    {
        ArgumentNullException.ThrowIfNull(failures);
        if (failures.Count == 0)
        {
            throw new ArgumentException("At least one failure is needed.", nameof(failures));
        }

        var last = failures[^1];
        Endpoint = last.Endpoint;
        Kind = last.Kind;
        StatusCode = last.StatusCode;
        Failures = failures;
    }

    /// <summary>The endpoint's base URL (the last one tried when several were).</summary>
    public Uri Endpoint { get; }

    /// <summary>How the endpoint failed.</summary>
    public EndpointFailureKind Kind { get; }

    /// <summary>The HTTP status the endpoint answered with, or null when there was no HTTP response.</summary>
    public int? StatusCode { get; }

    /// <summary>Each endpoint's failure, in the order tried (just this exception when one endpoint was tried).</summary>
    public IReadOnlyList<ModelEndpointException> Failures { get; }

    /// <summary>True when retrying later may succeed: no connection, a timeout, a lost connection, an open circuit, or status 408, 429 or 5xx.</summary>
    public bool IsTransient => Kind switch
    {
        EndpointFailureKind.HttpError => StatusCode is 408 or 429 or >= 500,
        EndpointFailureKind.InvalidResponse => false,
        _ => true,
    };

    /// <summary>A transient failure on every endpoint means the model cannot serve: the manager unloads it and its fallbacks answer.</summary>
    public override bool ShouldFailOver => IsTransient;
}
