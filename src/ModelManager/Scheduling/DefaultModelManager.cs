using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ModelManager;

/// <summary>The manager: a memory-budgeted, lease-counted cache of loaded models.</summary>
/// <remarks>
/// Thread-safe. Its parts, one file each: this one (state and lookups), Leasing (the warm path and fallback chains),
/// Loading (the cold path, top-down: single-flight start, estimate, reserve, load, publish), Eviction (unloads, the
/// limit, the idle sweep), Reload, Events, Shutdown. Each model's state machine is <see cref="ModelEntry"/>'s; the budget
/// and the eviction rule are <see cref="MemoryBudget"/>'s. Lock order: budget lock, then an entry's gate; events and task
/// completions run outside both.
/// </remarks>
internal sealed partial class DefaultModelManager : IModelManager
{
    private static readonly TimeSpan DisposeGracePeriod = TimeSpan.FromSeconds(10);

    /// <summary>How long a shutdown waits for cancelled loads to end before it abandons them (a load stuck in native code).</summary>
    internal static readonly TimeSpan LoadAbandonTimeout = TimeSpan.FromSeconds(3);

    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ModelManagerMetrics _metrics;
    private readonly FrozenDictionary<string, IModelBackend> _backends;
    private readonly MemoryBudget _budget;
    private readonly ConcurrentDictionary<string, ModelHandle> _agentHandles = new(StringComparer.Ordinal);
    private readonly ITimer _sweepTimer;
    private readonly CoarseClock _clock;
    private readonly CancellationTokenSource _shutdownCts = new();

    // The running configuration; replaced whole by a reload (under _reloadLock).
    private volatile ManagerConfiguration _config;
    private readonly object _reloadLock = new();
    private IDisposable? _reloadSubscription;

    private readonly object _shutdownLock = new();
    private Task? _shutdownTask;
    private volatile bool _disposed;

    public DefaultModelManager(ModelManagerOptions options, IEnumerable<IModelBackend> backends, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null,
        IMeterFactory? meterFactory = null)
    {
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ModelManager");

        var byType = new Dictionary<string, IModelBackend>(StringComparer.OrdinalIgnoreCase);
        foreach (var backend in backends)
        {
            foreach (var type in backend.Types)
            {
                byType[type] = backend;
            }
        }

        _backends = byType.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
        var config = ModelConfigurationValidator.Validate(options, _backends);
        foreach (var warning in config.Warnings)
        {
            Log.ConfigurationWarning(_logger, warning);
        }

        Warnings = config.Warnings;
        var entries = config.Models.Select(d => new ModelEntry(d, _backends[d.Type])).ToArray();
        _budget = new MemoryBudget(config.LimitBytes, entries);
        _config = new ManagerConfiguration(entries, config, version: 1);
        _clock = new CoarseClock(_time, StampedSince);
        _sweepTimer = _time.CreateTimer(static s => ((DefaultModelManager)s!).SweepIdle(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        ScheduleSweep(entries);

        _metrics = new ModelManagerMetrics(meterFactory, this);
        Log.Started(_logger, entries.Length, config.LimitBytes / MemoryBudget.Mb);
    }

    public event EventHandler<ModelEventArgs>? ModelEvent;

    public event EventHandler<ModelLoadProgress>? LoadProgress;

    public event EventHandler<ConfigurationReloadedEventArgs>? ConfigurationReloaded;

    internal TimeProvider Time => _time;

    internal long UsedBytes => _budget.UsedBytes;

    internal long LimitBytes => _budget.LimitBytes;

    internal int CountLoaded() => _budget.Entries.Count(e => e.State == ModelState.Ready);

    internal long CountLeases() => _budget.Entries.Sum(e => (long)Math.Max(0, e.Leases));

    /// <summary>Warnings found when the configuration was last validated (unknown keys and the like).</summary>
    public IReadOnlyList<string> Warnings { get; private set; }

    /// <summary>How often idle models are looked for; zero when no model has a <c>max_idle_time</c>.</summary>
    public TimeSpan SweepInterval { get; private set; }

    /// <summary>Bumped by every applied reload; handles re-resolve their model chain when it changes.</summary>
    internal int ConfigurationVersion => _config.Version;

    public ILanguageModel GetModel(string name)
    {
        var entry = GetEntry(name);
        return entry.Handle ?? entry.PublishHandle(new ModelHandle(this, name, isAgent: false));
    }

    public async Task<ILanguageModel> GetModelAsync(string name, CancellationToken cancellationToken = default)
    {
        var handle = GetModel(name);
        var lease = await AcquireChainAsync(((ModelHandle)handle).Chain, cancellationToken).ConfigureAwait(false);
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
        return _agentHandles.GetOrAdd(agentName, n => new ModelHandle(this, n, isAgent: true));
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
        var handle = (ModelHandle)GetModel(name);
        var lease = await AcquireChainAsync(handle.Chain, cancellationToken).ConfigureAwait(false);
        return new ModelLease(name, GetModel(lease.Entry.Name), lease, this);
    }

    public async Task LoadModelAsync(string name, CancellationToken cancellationToken = default)
    {
        var lease = await AcquireSlowAsync(GetEntry(name), cancellationToken).ConfigureAwait(false);
        Release(lease.Entry);
    }

    public MemoryUsage GetMemoryUsage() => _budget.GetUsage();

    public IReadOnlyDictionary<string, ModelStats> GetModelStats() => _budget.GetStats(_time);

    public IReadOnlyList<ModelDescriptor> GetModels() => _config.Models.Select(e => e.Descriptor).ToArray();

    public IReadOnlyDictionary<string, IReadOnlyList<string>> GetAgents() =>
        _config.Agents.Keys.Order(StringComparer.Ordinal).ToDictionary(
            a => a, IReadOnlyList<string> (a) => ResolveAgentChain(a).Select(e => e.Name).ToArray(), StringComparer.Ordinal);

    public Microsoft.Extensions.AI.IEmbeddingGenerator<string, Microsoft.Extensions.AI.Embedding<float>> GetEmbeddingGenerator(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return ((ModelHandle)ResolveKeyed(name)).AsEmbeddingGenerator();
    }

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
