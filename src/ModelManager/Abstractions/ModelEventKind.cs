namespace ModelManager;

/// <summary>What happened to a model; the kinds a callback can be registered for.</summary>
public enum ModelEventKind
{
    /// <summary>A model finished loading.</summary>
    Loaded,

    /// <summary>The manager unloaded a model on its own (memory pressure, idle time, a lowered limit).</summary>
    Evicted,

    /// <summary>A model was unloaded on request (<c>UnloadModelAsync</c>, shutdown, or removed from the configuration).</summary>
    Unloaded,

    /// <summary>A load failed.</summary>
    LoadFailed,

    /// <summary>A fallback model served a request because the requested one could not load.</summary>
    FallbackUsed,
}
