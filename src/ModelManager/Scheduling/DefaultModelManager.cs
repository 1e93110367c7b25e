using System.Collections.Frozen;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ModelManager;

/// <summary>The manager: a memory-budgeted, lease-counted cache of loaded models.</summary>
/// <remarks>
/// Thread-safe. Lock order: budget lock, then an entry's gate; events and task completions run outside both.
/// </remarks>
internal sealed partial class DefaultModelManager : IModelManager
{
    private const double Mb = 1024 * 1024;

    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, IModelBackend> _backends;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ManagedLanguageModel> _agentHandles = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdownCts = new();
    private readonly ITimer _sweepTimer;

    // The running configuration; replaced whole by a reload.
    private volatile ManagerConfiguration _config;

    // Every entry that may hold memory: the configured ones plus removed ones still unloading.
    private volatile ModelEntry[] _entryList;
    private readonly ModelManagerMetrics _metrics;
    private volatile bool _disposed;

    public DefaultModelManager(ModelManagerOptions options, IEnumerable<IModelBackend> backends, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null,
        System.Diagnostics.Metrics.IMeterFactory? meterFactory = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ModelManager");

        _backends = new Dictionary<string, IModelBackend>(StringComparer.OrdinalIgnoreCase);
        foreach (var backend in backends)
        {
            foreach (var type in backend.Types)
            {
                _backends[type] = backend;
            }
        }

        var config = ModelConfigurationValidator.Validate(options, _backends);
        foreach (var warning in config.Warnings)
        {
            Log.ConfigurationWarning(_logger, warning);
        }

        Warnings = config.Warnings;
        var entries = config.Models.Select(d => new ModelEntry(d, _backends[d.Type])).ToArray();
        _entryList = entries;
        _config = new ManagerConfiguration(entries, config, version: 1);
        _limitBytes = config.LimitBytes;
        _sweepTimer = _time.CreateTimer(static s => ((DefaultModelManager)s!).SweepIdle(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        ScheduleSweep(entries);

        _metrics = new ModelManagerMetrics(meterFactory, this);
        Log.Started(_logger, _entryList.Length, _limitBytes / Mb);
    }

    internal long UsedBytes => Interlocked.Read(ref _usedBytes);

    internal long LimitBytes => Interlocked.Read(ref _limitBytes);

    internal int CountLoaded() => _entryList.Count(e => e.State == ModelState.Ready);

    internal long CountLeases() => _entryList.Sum(e => (long)Math.Max(0, e.Leases));

    /// <summary>Warnings found when the configuration was last validated (unknown keys and the like).</summary>
    public IReadOnlyList<string> Warnings { get; private set; }

    /// <summary>How often idle models are looked for; zero when no model has a <c>max_idle_time</c>.</summary>
    public TimeSpan SweepInterval { get; private set; }

    /// <summary>Bumped by every applied reload; handles re-resolve their model chain when it changes.</summary>
    internal int ConfigurationVersion => _config.Version;

    public ILanguageModel GetModel(string name)
    {
        var entry = GetEntry(name);
        return entry.Handle ?? Interlocked.CompareExchange(ref entry.Handle, new ManagedLanguageModel(this, name, isAgent: false), null) ?? entry.Handle;
    }

    public async Task<ILanguageModel> GetModelAsync(string name, CancellationToken cancellationToken = default)
    {
        var handle = GetModel(name);
        var lease = await AcquireChainAsync(((ManagedLanguageModel)handle).Chain, cancellationToken).ConfigureAwait(false);
        Release(lease.Entry);
        return handle;
    }

    public ILanguageModel GetAgentModel(string agentName)
    {
        ArgumentNullException.ThrowIfNull(agentName);
        if (_agentHandles.TryGetValue(agentName, out var handle))
        {
            return handle;
        }

        _ = ResolveAgentChain(agentName); // fail now, not on the first call, when the agent cannot be served
        return _agentHandles.GetOrAdd(agentName, n => new ManagedLanguageModel(this, n, isAgent: true));
    }

    /// <summary>The agent's model and fallbacks (its own, else the model's), else <c>default_model</c>'s chain.</summary>
    internal ModelEntry[] ResolveAgentChain(string agentName)
    {
        var config = _config;
        if (config.Agents.TryGetValue(agentName, out var agent))
        {
            return agent.Fallbacks.Count > 0
                ? [GetEntry(agent.Model), .. agent.Fallbacks.Select(GetEntry)]
                : ModelChain(agent.Model);
        }

        if (config.DefaultModel is not null)
        {
            return ModelChain(config.DefaultModel);
        }

        throw new ModelNotFoundException(agentName,
            $"Agent '{agentName}' has no entry in 'agents' and no 'default_model' is configured. " +
            $"Configured agents: {Join(config.Agents.Keys)}; models: {Join(config.Entries.Keys)}.");
    }

    public async Task<ModelLease> AcquireAsync(string name, CancellationToken cancellationToken = default)
    {
        var handle = (ManagedLanguageModel)GetModel(name);
        var lease = await AcquireChainAsync(handle.Chain, cancellationToken).ConfigureAwait(false);
        var entry = lease.Entry;
        return new ModelLease(name, GetModel(entry.Name), () => Release(entry));
    }

    public async Task LoadModelAsync(string name, CancellationToken cancellationToken = default)
    {
        var lease = await AcquireSlowAsync(GetEntry(name), cancellationToken).ConfigureAwait(false);
        Release(lease.Entry);
    }

    public IReadOnlyList<ModelDescriptor> GetModels() => _config.Models.Select(e => e.Descriptor).ToArray();

    public IReadOnlyDictionary<string, IReadOnlyList<string>> GetAgents() =>
        _config.Agents.Keys.Order(StringComparer.Ordinal).ToDictionary(
            a => a, IReadOnlyList<string> (a) => ResolveAgentChain(a).Select(e => e.Name).ToArray(), StringComparer.Ordinal);

    /// <summary>Resolves a keyed-service key: an agent name first, then a model name.</summary>
    internal ILanguageModel ResolveKeyed(string key) =>
        _config.Agents.ContainsKey(key) || !_config.Entries.ContainsKey(key) ? GetAgentModel(key) : GetModel(key);

    internal ModelEntry GetEntry(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var entries = _config.Entries;
        if (entries.TryGetValue(name, out var entry))
        {
            return entry;
        }

        throw new ModelNotFoundException(name, $"No model named '{name}' is configured. Configured models: {Join(entries.Keys)}.");
    }

    /// <summary>The model followed by its fallbacks, depth first, without repeats.</summary>
    internal ModelEntry[] ModelChain(string name)
    {
        var chain = new List<ModelEntry>();
        void Add(ModelEntry e)
        {
            if (chain.Contains(e))
            {
                return;
            }

            chain.Add(e);
            foreach (var f in e.Descriptor.Fallbacks)
            {
                Add(GetEntry(f));
            }
        }

        Add(GetEntry(name));
        return chain.ToArray();
    }

    private static string Join(IEnumerable<string> names)
    {
        var list = names.ToList();
        return list.Count == 0 ? "(none)" : string.Join(", ", list.Select(n => $"'{n}'"));
    }

    private void ThrowIfDisposed()
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(nameof(IModelManager), "The model manager has been shut down.");
        }
    }
}
