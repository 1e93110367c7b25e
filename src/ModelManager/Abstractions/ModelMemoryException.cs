namespace ModelManager;

/// <summary>A model cannot fit the memory budget, even after evicting every model it may evict.</summary>
public sealed class ModelMemoryException : ModelLoadException
{
    /// <summary>Creates the exception.</summary>
    public ModelMemoryException(string modelName, long requestedBytes, long limitBytes, long usedBytes, IReadOnlyList<string> holders, string message)
        : base(modelName, message)
    {
        RequestedBytes = requestedBytes;
        LimitBytes = limitBytes;
        UsedBytes = usedBytes;
        Holders = holders;
    }

    /// <summary>The bytes the model needs (its estimate).</summary>
    public long RequestedBytes { get; }

    /// <summary>The budget in bytes.</summary>
    public long LimitBytes { get; }

    /// <summary>Bytes in use when the load gave up.</summary>
    public long UsedBytes { get; }

    /// <summary>The models holding memory when the load gave up, as "name (MB, leases, priority)".</summary>
    public IReadOnlyList<string> Holders { get; }
}
