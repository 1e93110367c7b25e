namespace ModelManager;

/// <summary>The outcome of a configuration reload: applied with what changed, or rejected with every error.</summary>
public sealed class ConfigurationReloadedEventArgs : EventArgs
{
    internal ConfigurationReloadedEventArgs(bool applied, IReadOnlyList<string> errors, IReadOnlyList<string> added, IReadOnlyList<string> removed, IReadOnlyList<string> changed)
    {
        Applied = applied;
        Errors = errors;
        Added = added;
        Removed = removed;
        Changed = changed;
    }

    /// <summary>False when the new configuration was invalid; the running one is untouched.</summary>
    public bool Applied { get; }

    /// <summary>The validation errors of a rejected configuration, each naming its JSON path.</summary>
    public IReadOnlyList<string> Errors { get; }

    /// <summary>Models the reload added.</summary>
    public IReadOnlyList<string> Added { get; }

    /// <summary>Models the reload removed; each unloads once its leases drain.</summary>
    public IReadOnlyList<string> Removed { get; }

    /// <summary>Models whose settings changed; those whose backend settings changed reload on next use.</summary>
    public IReadOnlyList<string> Changed { get; }
}
