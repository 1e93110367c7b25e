namespace ModelManager;

/// <summary>Where a managed model is in its life cycle.</summary>
public enum ModelState
{
    /// <summary>Not in memory.</summary>
    Unloaded,

    /// <summary>A load is in flight.</summary>
    Loading,

    /// <summary>Loaded and serving calls.</summary>
    Ready,

    /// <summary>Waiting for its leases to drain, then freeing its memory.</summary>
    Unloading,
}
