using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>Every log line the core writes, with fixed event ids. Prompts, outputs and secrets are never logged.</summary>
internal static partial class Log
{
    [LoggerMessage(1000, LogLevel.Information, "Loading model {Model} ({Type}), estimated {EstimatedMb:F1} MB")]
    public static partial void Loading(ILogger logger, string model, string type, double estimatedMb);

    [LoggerMessage(1001, LogLevel.Information, "Loaded model {Model} in {DurationMs:F0} ms: estimated {EstimatedMb:F1} MB, actual {ActualMb:F1} MB; budget {UsedMb:F1}/{LimitMb:F1} MB")]
    public static partial void Loaded(ILogger logger, string model, double durationMs, double estimatedMb, double actualMb, double usedMb, double limitMb);

    [LoggerMessage(1002, LogLevel.Error, "Loading model {Model} failed")]
    public static partial void LoadFailed(ILogger logger, string model, Exception exception);

    [LoggerMessage(1003, LogLevel.Information, "Unloaded model {Model} ({Reason}), freed {FreedMb:F1} MB")]
    public static partial void Unloaded(ILogger logger, string model, UnloadReason reason, double freedMb);

    [LoggerMessage(1004, LogLevel.Information, "Evicting model {Model} ({Reason}) to free {FreedMb:F1} MB")]
    public static partial void Evicting(ILogger logger, string model, UnloadReason reason, double freedMb);

    [LoggerMessage(1005, LogLevel.Warning, "Memory pressure: evicting model {Model} (priority {Priority}) so that {Requester} can load; need {NeededMb:F1} MB")]
    public static partial void PressureEviction(ILogger logger, string model, int priority, string requester, double neededMb);

    [LoggerMessage(1006, LogLevel.Warning, "Model {Model} could not load; fallback {Fallback} serves instead")]
    public static partial void FallbackUsed(ILogger logger, string model, string fallback);

    [LoggerMessage(1007, LogLevel.Information, "Waiting up to {TimeoutSeconds:F0} s for leases to drain so that {Model} ({NeededMb:F1} MB) fits")]
    public static partial void WaitingForMemory(ILogger logger, string model, double neededMb, double timeoutSeconds);

    [LoggerMessage(1008, LogLevel.Warning, "Model {Model} reports {ActualMb:F1} MB, above its estimate of {EstimatedMb:F1} MB; the budget is over by {OverMb:F1} MB")]
    public static partial void OverEstimate(ILogger logger, string model, double actualMb, double estimatedMb, double overMb);

    [LoggerMessage(1009, LogLevel.Error, "A {Source} handler for model {Model} threw; ignored")]
    public static partial void HandlerFailed(ILogger logger, string source, string model, Exception exception);

    [LoggerMessage(1010, LogLevel.Warning, "Disposing model {Model} threw; its memory is released from the budget anyway")]
    public static partial void DisposeFailed(ILogger logger, string model, Exception exception);

    [LoggerMessage(1011, LogLevel.Information, "Memory limit changed from {OldMb:F0} MB to {NewMb:F0} MB")]
    public static partial void LimitChanged(ILogger logger, double oldMb, double newMb);

    [LoggerMessage(1012, LogLevel.Warning, "Configuration: {Warning}")]
    public static partial void ConfigurationWarning(ILogger logger, string warning);

    [LoggerMessage(1013, LogLevel.Information, "Model manager started: {ModelCount} models, budget {LimitMb:F0} MB")]
    public static partial void Started(ILogger logger, int modelCount, double limitMb);

    [LoggerMessage(1014, LogLevel.Information, "Model manager shutting down")]
    public static partial void ShuttingDown(ILogger logger);

    [LoggerMessage(1015, LogLevel.Warning, "Preloading model {Model} failed")]
    public static partial void PreloadFailed(ILogger logger, string model, Exception exception);

    [LoggerMessage(1017, LogLevel.Information, "Configuration reloaded: {Added} added, {Removed} removed, {Changed} changed; budget {LimitMb:F0} MB")]
    public static partial void Reloaded(ILogger logger, int added, int removed, int changed, double limitMb);

    [LoggerMessage(1018, LogLevel.Error, "Configuration reload rejected; the running configuration is unchanged: {Errors}")]
    public static partial void ReloadRejected(ILogger logger, string errors);

    [LoggerMessage(1019, LogLevel.Warning, "Model {Model} cannot serve; unloading it so that the call is retried through its fallbacks")]
    public static partial void Unavailable(ILogger logger, string model, Exception exception);

    [LoggerMessage(1016, LogLevel.Debug, "Unloading model {Model} waits for {Leases} lease(s) to drain")]
    public static partial void WaitingForLeases(ILogger logger, string model, int leases);

    [LoggerMessage(1020, LogLevel.Information, "Reclaimed {FreedMb:F1} MB of model {Model}'s cache for {Requester}")]
    public static partial void CacheReclaimed(ILogger logger, string model, double freedMb, string requester);

    [LoggerMessage(1022, LogLevel.Warning, "Model {Model} is not retried for {Seconds:F0} s (failure_cooldown) while its file is unchanged: {Reason}")]
    public static partial void CoolingDown(ILogger logger, string model, double seconds, string reason);

    [LoggerMessage(1021, LogLevel.Warning, "Reclaiming model {Model}'s cache failed")]
    public static partial void ReclaimFailed(ILogger logger, string model, Exception exception);

    [LoggerMessage(1023, LogLevel.Warning, "Shutdown abandoned the load of model {Model}: it ignored cancellation for {Seconds:F0} s (stuck in native code or a blocked read); what it loads is freed when it ends")]
    public static partial void LoadAbandoned(ILogger logger, string model, double seconds);
}
