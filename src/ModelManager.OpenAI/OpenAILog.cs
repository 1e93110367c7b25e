using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>Log lines of the openai backend, with fixed event ids (4000+). Keys, prompts and outputs are never logged.</summary>
internal static partial class OpenAILog
{
    [LoggerMessage(4000, LogLevel.Debug, "Model {Model}: endpoint {Endpoint} is reachable and lists {Count} model(s)")]
    public static partial void Reachable(ILogger logger, string model, Uri endpoint, int count);

    [LoggerMessage(4001, LogLevel.Warning, "Model {Model}: endpoint {Endpoint} does not list model id '{RemoteModel}'; calls may fail with 404 (set 'model' to one of: {Listed})")]
    public static partial void ModelNotListed(ILogger logger, string model, Uri endpoint, string remoteModel, string listed);

    [LoggerMessage(4002, LogLevel.Warning, "Model {Model}: endpoint {Endpoint} failed ({Kind}); trying the next endpoint. {Reason}")]
    public static partial void FailingOver(ILogger logger, string model, Uri endpoint, EndpointFailureKind kind, string reason);

    [LoggerMessage(4003, LogLevel.Debug, "Model {Model}: retrying endpoint {Endpoint} in {DelayMs:F0} ms (retry {Attempt}) after {Outcome}")]
    public static partial void Retrying(ILogger logger, string model, Uri endpoint, double delayMs, int attempt, string outcome);

    [LoggerMessage(4004, LogLevel.Warning, "Endpoint {Endpoint} (model id '{RemoteModel}') keeps failing; it is skipped for {BreakSeconds:F0} s")]
    public static partial void CircuitOpened(ILogger logger, Uri endpoint, string remoteModel, double breakSeconds);

    [LoggerMessage(4005, LogLevel.Information, "Endpoint {Endpoint} (model id '{RemoteModel}') answers again")]
    public static partial void CircuitClosed(ILogger logger, Uri endpoint, string remoteModel);

    [LoggerMessage(4006, LogLevel.Debug, "Model {Model}: skipping endpoint {Endpoint}: it failed repeatedly in the last {BreakSeconds:F0} s")]
    public static partial void Skipped(ILogger logger, string model, Uri endpoint, double breakSeconds);

    [LoggerMessage(4007, LogLevel.Debug, "Model {Model}: client created for model id '{RemoteModel}' on {Count} endpoint(s), timeout {TimeoutSeconds:F1} s, {Retries} retries, key from {KeySource}")]
    public static partial void ClientCreated(ILogger logger, string model, string remoteModel, int count, double timeoutSeconds, int retries, string keySource);

    [LoggerMessage(4008, LogLevel.Debug, "Model {Model}: client disposed")]
    public static partial void ClientDisposed(ILogger logger, string model);

    [LoggerMessage(4009, LogLevel.Debug, "Model {Model}: endpoint {Endpoint} has no /models (HTTP 404); assuming it is reachable")]
    public static partial void NoModelsEndpoint(ILogger logger, string model, Uri endpoint);

    [LoggerMessage(4010, LogLevel.Warning, "Model {Model}: the call failed: {Reason}")]
    public static partial void CallFailed(ILogger logger, string model, string reason);
}
