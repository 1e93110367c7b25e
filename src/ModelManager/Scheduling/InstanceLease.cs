namespace ModelManager;

/// <summary>The scheduler's lease: the entry, the instance it pins and the token a forced unload cancels.</summary>
/// <remarks>A value, free to create; the public <see cref="ModelLease"/> and every handle call hold one and release it once.</remarks>
internal readonly struct InstanceLease(ModelEntry entry, IModelInstance instance, CancellationToken callToken)
{
    public ModelEntry Entry { get; } = entry;

    public IModelInstance Instance { get; } = instance;

    public CancellationToken CallToken { get; } = callToken;
}
