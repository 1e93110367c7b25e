namespace ModelManager;

/// <summary>What <see cref="ModelEntry.RequestUnload"/> found.</summary>
internal enum UnloadStep
{
    /// <summary>Unloaded already: nothing to do.</summary>
    NotLoaded,

    /// <summary>A load is in flight: wait for it, then ask again.</summary>
    Loading,

    /// <summary>An unload is in flight: wait for it.</summary>
    Unloading,

    /// <summary>The model was Ready and is now Unloading: the caller finishes the unload.</summary>
    Begun,
}
