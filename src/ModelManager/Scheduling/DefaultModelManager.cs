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
    private readonly FrozenDictionary<string, ModelEntry> _entries;
    private readonly ModelEntry[] _entryList;
    private readonly FrozenDictionary<string, AgentDescriptor> _agents;
    private readonly string? _defaultModel;
    private readonly TimeSpan _loadWaitTimeout;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, ManagedLanguageModel> _agentHandles = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _shutdownCts = new();
    private readonly ITimer? _sweepTimer;
    private readonly ModelManagerMetrics _metrics;
    private volatile bool _disposed;

    public DefaultModelManager(ModelManagerOptions options, IEnumerable<IModelBackend> backends, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null,
        System.Diagnostics.Metrics.IMeterFactory? meterFactory = null)
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

        var config = ModelConfigurationValidator.Validate(options, byType);
        foreach (var warning in config.Warnings)
        {
            Log.ConfigurationWarning(_logger, warning);
        }

        Warnings = config.Warnings;
        _entryList = config.Models.Select(d => new ModelEntry(d, byType[d.Type])).ToArray();
        _entries = _entryList.ToFrozenDictionary(e => e.Name, StringComparer.Ordinal);
        _agents = config.Agents.ToFrozenDictionary(StringComparer.Ordinal);
        _defaultModel = config.DefaultModel;
        _limitBytes = config.LimitBytes;
        _loadWaitTimeout = config.LoadWaitTimeout;

        var idle = _entryList.Where(e => e.Descriptor.MaxIdleTime > TimeSpan.Zero).Select(e => e.Descriptor.MaxIdleTime).DefaultIfEmpty().Min();
        if (idle > TimeSpan.Zero)
        {
            SweepInterval = TimeSpan.FromTicks(Math.Clamp(idle.Ticks / 4, TimeSpan.TicksPerSecond, 30 * TimeSpan.TicksPerSecond));
            _sweepTimer = _time.CreateTimer(static s => ((DefaultModelManager)s!).SweepIdle(), this, SweepInterval, SweepInterval);
        }

        _metrics = new ModelManagerMetrics(meterFactory, this);
        Log.Started(_logger, _entryList.Length, _limitBytes / Mb);
    }

    internal long UsedBytes => Interlocked.Read(ref _usedBytes);

    internal long LimitBytes => Interlocked.Read(ref _limitBytes);

    internal int CountLoaded() => _entryList.Count(e => e.State == ModelState.Ready);

    internal long CountLeases() => _entryList.Sum(e => (long)Math.Max(0, e.Leases));

    /// <summary>Warnings found when the configuration was validated (unknown keys and the like).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>How often idle models are looked for; zero when no model has a <c>max_idle_time</c>.</summary>
    public TimeSpan SweepInterval { get; }

    public ILanguageModel GetModel(string name)
    {
        var entry = GetEntry(name);
        return entry.Handle ?? Interlocked.CompareExchange(ref entry.Handle, CreateHandle(name, entry, ModelChain(name)), null) ?? entry.Handle;
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

        ModelEntry[] chain;
        if (_agents.TryGetValue(agentName, out var agent))
        {
            chain = agent.Fallbacks.Count > 0
                ? [GetEntry(agent.Model), .. agent.Fallbacks.Select(GetEntry)]
                : ModelChain(agent.Model);
        }
        else if (_defaultModel is not null)
        {
            chain = ModelChain(_defaultModel);
        }
        else
        {
            throw new ModelNotFoundException(agentName,
                $"Agent '{agentName}' has no entry in 'agents' and no 'default_model' is configured. " +
                $"Configured agents: {Join(_agents.Keys)}; models: {Join(_entries.Keys)}.");
        }

        return _agentHandles.GetOrAdd(agentName, n => CreateHandle(n, chain[0], chain));
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

    public IReadOnlyList<ModelDescriptor> GetModels() => _entryList.Select(e => e.Descriptor).ToArray();

    /// <summary>Resolves a keyed-service key: an agent name first, then a model name.</summary>
    internal ILanguageModel ResolveKeyed(string key) =>
        _agents.ContainsKey(key) || !_entries.ContainsKey(key) ? GetAgentModel(key) : GetModel(key);

    internal ModelEntry GetEntry(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_entries.TryGetValue(name, out var entry))
        {
            return entry;
        }

        throw new ModelNotFoundException(name, $"No model named '{name}' is configured. Configured models: {Join(_entries.Keys)}.");
    }

    /// <summary>The model followed by its fallbacks, depth first, without repeats.</summary>
    private ModelEntry[] ModelChain(string name)
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

    private ManagedLanguageModel CreateHandle(string name, ModelEntry primary, ModelEntry[] chain) => new(this, name, primary, chain);

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
