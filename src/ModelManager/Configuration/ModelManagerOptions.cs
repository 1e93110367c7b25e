namespace ModelManager;

/// <summary>The manager's configuration: the <c>config.json</c> schema as a bindable object.</summary>
/// <remarks>Validated when the manager starts; every problem is reported at once in a <see cref="ModelConfigurationException"/>.</remarks>
public sealed class ModelManagerOptions
{
    /// <summary><c>max_memory_mb</c>: the memory budget in MB. Default: 75% of the memory available to the process.</summary>
    public long? MaxMemoryMb { get; set; }

    /// <summary><c>default_model</c>: the model an agent without an entry in <see cref="Agents"/> gets. Default: none.</summary>
    public string? DefaultModel { get; set; }

    /// <summary><c>load_wait_timeout</c>: seconds a load waits for leases to drain when memory is short. Default 30.</summary>
    public double LoadWaitTimeout { get; set; } = 30;

    /// <summary><c>load_timeout</c>: seconds one load may take before it is cancelled and its memory reservation returned; 0 = no limit. Default 600.</summary>
    public double LoadTimeout { get; set; } = 600;

    /// <summary>
    /// <c>failure_cooldown</c>: seconds a model whose file failed to load (a <see cref="ModelFormatException"/>) is not
    /// tried again while its file is unchanged; calls fail over at once meanwhile. 0 = retry on every call. Default 30.
    /// </summary>
    public double FailureCooldown { get; set; } = 30;

    /// <summary><c>models</c>: the managed models.</summary>
    public IList<ModelDefinition> Models { get; set; } = [];

    /// <summary><c>agents</c>: agent name → model and fallbacks.</summary>
    public IDictionary<string, AgentDefinition> Agents { get; set; } = new Dictionary<string, AgentDefinition>(StringComparer.Ordinal);

    /// <summary>The folder relative model paths resolve against. Default: the config file's folder, else the current directory.</summary>
    public string? BaseDirectory { get; set; }

    /// <summary>Where the configuration came from (a file path), for messages.</summary>
    public string? Source { get; set; }

    internal List<string> BindErrors { get; } = [];

    internal List<string> BindWarnings { get; } = [];
}
