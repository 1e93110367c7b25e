namespace ModelManager;

/// <summary>The outcome of a configuration reload: applied with what changed, or rejected with every error.</summary>
/// <param name="applied">Whether the new configuration was applied.</param>
/// <param name="errors">The validation errors of a rejected configuration.</param>
/// <param name="added">Models the reload added.</param>
/// <param name="removed">Models the reload removed.</param>
/// <param name="changed">Models whose settings changed.</param>
public sealed class ConfigurationReloadedEventArgs(bool applied, IReadOnlyList<string> errors, IReadOnlyList<string> added, IReadOnlyList<string> removed, IReadOnlyList<string> changed)
    : EventArgs
{
    /// <summary>False when the new configuration was invalid; the running one is untouched.</summary>
    public bool Applied { get; } = applied;

    /// <summary>The validation errors of a rejected configuration, each naming its JSON path.</summary>
    public IReadOnlyList<string> Errors { get; } = errors;

    /// <summary>Models the reload added.</summary>
    public IReadOnlyList<string> Added { get; } = added;

    /// <summary>Models the reload removed; each unloads once its leases drain.</summary>
    public IReadOnlyList<string> Removed { get; } = removed;

    /// <summary>Models whose settings changed; those whose backend settings changed reload on next use.</summary>
    public IReadOnlyList<string> Changed { get; } = changed;
}
