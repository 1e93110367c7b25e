namespace ModelServer.Api;

/// <summary>Log lines of ModelServer, with fixed event ids (4100+). Prompts, outputs and keys are never logged.</summary>
internal static partial class ServerLog
{
    [LoggerMessage(4100, LogLevel.Warning, "Request failed with {Status}")]
    public static partial void Failed(ILogger logger, int status, Exception exception);

    [LoggerMessage(4101, LogLevel.Debug, "Request rejected with {Status}: {Message}")]
    public static partial void Rejected(ILogger logger, int status, string message);

    [LoggerMessage(4102, LogLevel.Warning, "The {Kind} event of model {Model} could not be streamed to /v1/events")]
    public static partial void EventNotStreamed(ILogger logger, string kind, string model, Exception exception);
}
