namespace ModelManager;

/// <summary>A model cannot fit the memory budget, even after evicting every model it may evict.</summary>
/// <param name="modelName">The model that cannot fit.</param>
/// <param name="requestedBytes">The bytes it needs.</param>
/// <param name="limitBytes">The budget.</param>
/// <param name="usedBytes">The bytes in use.</param>
/// <param name="holders">Who holds them.</param>
/// <param name="message">Why, in words.</param>
public sealed class ModelMemoryException(string modelName, long requestedBytes, long limitBytes, long usedBytes, IReadOnlyList<string> holders, string message)
    : ModelLoadException(modelName, message)
{
    /// <summary>The bytes the model needs (its estimate).</summary>
    public long RequestedBytes { get; } = requestedBytes;

    /// <summary>The budget in bytes.</summary>
    public long LimitBytes { get; } = limitBytes;

    /// <summary>Bytes in use when the load gave up.</summary>
    public long UsedBytes { get; } = usedBytes;

    /// <summary>The models holding memory when the load gave up, as "name (MB, leases, priority)".</summary>
    public IReadOnlyList<string> Holders { get; } = holders;

    /// <summary>True when the model needs more than the whole budget: no retry can succeed until the budget or the model changes.</summary>
    public bool CanNeverFit => RequestedBytes > LimitBytes;
}
