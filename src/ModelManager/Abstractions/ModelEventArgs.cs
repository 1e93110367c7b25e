namespace ModelManager;

/// <summary>Describes one model event.</summary>
/// <param name="modelName">The model the event is about.</param>
/// <param name="kind">What happened.</param>
/// <param name="reason">Why the model was unloaded.</param>
/// <param name="bytes">The bytes the model held or asked for.</param>
/// <param name="detail">Extra detail.</param>
/// <param name="exception">The failure, if any.</param>
public sealed class ModelEventArgs(string modelName, ModelEventKind kind, UnloadReason reason = UnloadReason.None, long bytes = 0, string? detail = null, Exception? exception = null)
    : EventArgs
{
    /// <summary>The model the event is about (for <see cref="ModelEventKind.FallbackUsed"/>, the one that failed).</summary>
    public string ModelName { get; } = modelName;

    /// <summary>What happened.</summary>
    public ModelEventKind Kind { get; } = kind;

    /// <summary>Why the model was unloaded, for Evicted and Unloaded events.</summary>
    public UnloadReason Reason { get; } = reason;

    /// <summary>The bytes the model held (loaded/unloaded) or asked for (failed).</summary>
    public long Bytes { get; } = bytes;

    /// <summary>Extra detail: for FallbackUsed, the model that served instead.</summary>
    public string? Detail { get; } = detail;

    /// <summary>The failure, for LoadFailed and FallbackUsed.</summary>
    public Exception? Exception { get; } = exception;

    /// <inheritdoc />
    public override string ToString() => $"{Kind} {ModelName}" +
        (Reason != UnloadReason.None ? $" ({Reason})" : "") +
        (Detail is null ? "" : $" -> {Detail}");
}
