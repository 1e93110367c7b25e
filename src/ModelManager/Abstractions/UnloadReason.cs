namespace ModelManager;

/// <summary>Why a model left memory.</summary>
public enum UnloadReason
{
    /// <summary>Not an unload (the event is a load, a failure or a fallback).</summary>
    None,

    /// <summary>Evicted to make room for another model's load.</summary>
    Capacity,

    /// <summary>Evicted after it stayed unused for its <c>max_idle_time</c>.</summary>
    Idle,

    /// <summary>Evicted because the memory limit was lowered, or a model used more than estimated.</summary>
    MemoryLimit,

    /// <summary>Unloaded by <c>UnloadModelAsync</c>.</summary>
    Requested,

    /// <summary>Unloaded by <c>UnloadModelAsync(force: true)</c>; in-flight calls were cancelled.</summary>
    Forced,

    /// <summary>Unloaded because the configuration no longer names it.</summary>
    Removed,

    /// <summary>Unloaded because a reload changed its backend settings; the next call loads it with the new ones.</summary>
    Reconfigured,

    /// <summary>Evicted because a call found it could not serve (<see cref="ModelUnavailableException"/>); the next call reloads it or falls back.</summary>
    Unavailable,

    /// <summary>Unloaded by shutdown.</summary>
    Shutdown,
}
