namespace ModelManager;

/// <summary>An internal lease: the entry, the instance it pinned and the token that force-unload cancels.</summary>
internal readonly struct Leased(ModelEntry entry, IModelInstance instance, CancellationToken callToken)
{
    public ModelEntry Entry { get; } = entry;

    public IModelInstance Instance { get; } = instance;

    public CancellationToken CallToken { get; } = callToken;
}
