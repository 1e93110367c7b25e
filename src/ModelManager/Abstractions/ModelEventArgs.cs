namespace ModelManager;

/// <summary>Describes one model event.</summary>
public sealed class ModelEventArgs : EventArgs
{
    /// <summary>Creates the event data.</summary>
    public ModelEventArgs(string modelName, ModelEventKind kind, UnloadReason reason = UnloadReason.None, long bytes = 0, string? detail = null, Exception? exception = null)
    {
        ModelName = modelName;
        Kind = kind;
        Reason = reason;
        Bytes = bytes;
        Detail = detail;
        Exception = exception;
    }

    /// <summary>The model the event is about (for <see cref="ModelEventKind.FallbackUsed"/>, the one that failed).</summary>
    public string ModelName { get; }

    /// <summary>What happened.</summary>
    public ModelEventKind Kind { get; }

    /// <summary>Why the model was unloaded, for Evicted and Unloaded events.</summary>
    public UnloadReason Reason { get; }

    /// <summary>The bytes the model held (loaded/unloaded) or asked for (failed).</summary>
    public long Bytes { get; }

    /// <summary>Extra detail: for FallbackUsed, the model that served instead.</summary>
    public string? Detail { get; }

    /// <summary>The failure, for LoadFailed and FallbackUsed.</summary>
    public Exception? Exception { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Kind} {ModelName}" +
        (Reason != UnloadReason.None ? $" ({Reason})" : "") +
        (Detail is null ? "" : $" -> {Detail}");
}
