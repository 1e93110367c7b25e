using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>Log lines of the gguf backend, with fixed event ids.</summary>
internal static partial class LlamaSharpLog
{
    [LoggerMessage(2000, LogLevel.Error, "The generation loop of model {Model} failed; its requests were failed")]
    public static partial void GeneratorFailed(ILogger logger, string model, Exception exception);

    [LoggerMessage(2001, LogLevel.Warning, "The prompt cache of model {Model} was not spilled to {Path}: {Reason}")]
    public static partial void SpillSkipped(ILogger logger, string model, string path, string reason);

    [LoggerMessage(2002, LogLevel.Warning, "A prompt cache spill file of model {Model} was discarded, not restored: {Path}: {Reason}")]
    public static partial void SpillDiscarded(ILogger logger, string model, string path, string reason);

    [LoggerMessage(2003, LogLevel.Debug, "Model {Model} spilled {Count} cached sequences to {Path}")]
    public static partial void Spilled(ILogger logger, string model, int count, string path);

    [LoggerMessage(2004, LogLevel.Debug, "Model {Model} restored {Count} cached sequences from its spill folder")]
    public static partial void Restored(ILogger logger, string model, int count);

    [LoggerMessage(2005, LogLevel.Debug, "Model {Model}'s weights are in {HugeMb:F1} MB of 2 MB pages ({WeightsMb:F1} MB of weights; collapsed in {Milliseconds:F0} ms, off the load path)")]
    public static partial void HugePagesUsed(ILogger logger, string model, double hugeMb, double weightsMb, double milliseconds);

    [LoggerMessage(2006, LogLevel.Debug, "Model {Model}'s weights stay on 4 KB pages: {Reason}")]
    public static partial void HugePagesSkipped(ILogger logger, string model, string reason);
}
