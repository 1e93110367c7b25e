namespace ModelManager;

/// <summary>
/// Memory a loaded model holds beyond what its load cost, which it can give back at once without unloading (the gguf prompt
/// cache): offered by <see cref="IModelInstance.GetService"/> for this type, charged to the budget as it grows.
/// </summary>
/// <remarks>
/// The manager calls <see cref="Attach"/> once, right after the load; from then on the instance asks
/// <see cref="IMemoryGrant.TryGrow"/> before it holds more and calls <see cref="IMemoryGrant.Shrink"/> when it holds less.
/// Under memory pressure the manager calls <see cref="Reclaim"/> on the models a load may evict, before it evicts any of
/// them. Implementations are thread-safe: <see cref="Reclaim"/> comes from any thread while calls run.
/// </remarks>
public interface IReclaimableMemory
{
    /// <summary>The bytes held now (charged through the grant once attached).</summary>
    long Bytes { get; }

    /// <summary>Connects the budget. Bytes held before (restored at load, say) are charged now, or given up if they do not fit.</summary>
    void Attach(IMemoryGrant grant);

    /// <summary>Frees at least <paramref name="bytes"/> if it holds that much, least valuable first; returns the bytes freed.</summary>
    long Reclaim(long bytes);
}

/// <summary>One loaded model's line of credit in the memory budget, for its <see cref="IReclaimableMemory"/>.</summary>
/// <remarks>Thread-safe. Once the model unloads, <see cref="TryGrow"/> refuses and <see cref="Shrink"/> does nothing.</remarks>
public interface IMemoryGrant
{
    /// <summary>Charges <paramref name="bytes"/> more when the budget has room for them without evicting anything; false otherwise.</summary>
    bool TryGrow(long bytes);

    /// <summary>Gives <paramref name="bytes"/> back to the budget (at most what was granted).</summary>
    void Shrink(long bytes);
}
