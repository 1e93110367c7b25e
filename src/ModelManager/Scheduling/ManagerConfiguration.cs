using System.Collections.Frozen;

namespace ModelManager;

/// <summary>An immutable snapshot of the running configuration; a reload swaps in a new one.</summary>
internal sealed class ManagerConfiguration
{
    public ManagerConfiguration(ModelEntry[] models, ValidatedConfiguration config, int version)
    {
        Models = models;
        Entries = models.ToFrozenDictionary(e => e.Name, StringComparer.Ordinal);
        Agents = config.Agents.ToFrozenDictionary(StringComparer.Ordinal);
        DefaultModel = config.DefaultModel;
        LoadWaitTimeout = config.LoadWaitTimeout;
        LoadTimeout = config.LoadTimeout;
        FailureCooldown = config.FailureCooldown;
        Version = version;
    }

    /// <summary>The configured models, in configuration order.</summary>
    public ModelEntry[] Models { get; }

    public FrozenDictionary<string, ModelEntry> Entries { get; }

    public FrozenDictionary<string, AgentDescriptor> Agents { get; }

    public string? DefaultModel { get; }

    public TimeSpan LoadWaitTimeout { get; }

    /// <summary>How long one backend load may take; <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</summary>
    public TimeSpan LoadTimeout { get; }

    /// <summary>How long a model whose file failed to load is not retried while the file is unchanged; zero for never.</summary>
    public TimeSpan FailureCooldown { get; }

    public int Version { get; }
}
