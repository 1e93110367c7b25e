namespace ModelManager;

/// <summary>What the scheduler reads from an <see cref="UnloadReason"/>.</summary>
internal static class UnloadReasons
{
    /// <summary>True when the manager chose to unload (an eviction), false when someone asked for it (or shutdown).</summary>
    public static bool IsEviction(this UnloadReason reason) =>
        reason is UnloadReason.Capacity or UnloadReason.Idle or UnloadReason.MemoryLimit or UnloadReason.Unavailable;
}
