namespace ModelManager;

/// <summary>The application's one place to load, share and retire language models within a memory budget.</summary>
/// <remarks>
/// Thread-safe singleton. The manager owns every loaded model; leases pin models, handles do not. Disposing the manager
/// unloads everything; calls after that throw <see cref="ObjectDisposedException"/>.
/// </remarks>
public interface IModelManager : IAsyncDisposable, IDisposable
{
    /// <summary>Returns a handle to a model without loading it; each call on the handle loads the model if needed.</summary>
    /// <exception cref="ModelNotFoundException">No model has that name.</exception>
    ILanguageModel GetModel(string name);

    /// <summary>Returns a handle to a model once it (or a fallback) is loaded.</summary>
    Task<ILanguageModel> GetModelAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Returns a handle for an agent: its configured model and fallbacks, else <c>default_model</c>.</summary>
    /// <exception cref="ModelNotFoundException">The agent is not configured and there is no default model.</exception>
    ILanguageModel GetAgentModel(string agentName);

    /// <summary>Returns an embedding generator for an agent or model name (resolved as keyed services are: an agent first, then a model), without loading it.</summary>
    /// <remarks>
    /// Each call leases the model (or an embeddings-capable fallback) for the call, as a chat call does: same single-flight
    /// loads, budget, eviction, idle unload, stats and events. The generator owns nothing; disposing it does nothing.
    /// </remarks>
    /// <exception cref="ModelNotFoundException">No agent or model has that name and there is no default model.</exception>
    /// <exception cref="NotSupportedException">From its calls: the model does not serve embeddings (its <c>capabilities</c>); names the model.</exception>
    Microsoft.Extensions.AI.IEmbeddingGenerator<string, Microsoft.Extensions.AI.Embedding<float>> GetEmbeddingGenerator(string name) =>
        throw new NotSupportedException($"{GetType().Name} does not provide embedding generators.");

    /// <summary>Loads a model (or a fallback) and pins it until the lease is disposed.</summary>
    Task<ModelLease> AcquireAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Loads exactly the named model (no fallbacks), evicting others if needed.</summary>
    Task LoadModelAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Unloads a model once its leases drain; with <paramref name="force"/> its in-flight calls are cancelled first.</summary>
    /// <returns>True if the model was loaded and is now unloaded.</returns>
    Task<bool> UnloadModelAsync(string name, bool force = false, CancellationToken cancellationToken = default);

    /// <summary>Returns the budget and what each model holds.</summary>
    MemoryUsage GetMemoryUsage();

    /// <summary>Changes the budget; lowering it begins evicting idle models at once, least important first, until the rest fits.</summary>
    /// <remarks>
    /// The integration guide's synchronous form: it never blocks, so the evictions may still be finishing when it returns
    /// (leased models go when their leases drain). Await <see cref="SetMemoryLimitAsync"/> to know the idle ones are gone.
    /// </remarks>
    void SetMemoryLimit(long megabytes);

    /// <summary>Changes the budget; the task ends once the idle models over the new limit are evicted (leased ones go when their leases drain).</summary>
    Task SetMemoryLimitAsync(long megabytes, CancellationToken cancellationToken = default);

    /// <summary>Returns a snapshot of every configured model's counters.</summary>
    IReadOnlyDictionary<string, ModelStats> GetModelStats();

    /// <summary>Returns the configured models.</summary>
    IReadOnlyList<ModelDescriptor> GetModels();

    /// <summary>Returns each configured agent with the models it tries, in order (its model, then its fallbacks).</summary>
    IReadOnlyDictionary<string, IReadOnlyList<string>> GetAgents();

    /// <summary>Calls <paramref name="callback"/> with the model name whenever an event of <paramref name="kind"/> happens; dispose the result to stop.</summary>
    /// <remarks>Callbacks run synchronously on the thread that caused the event, outside the manager's locks; exceptions are logged and ignored.</remarks>
    IDisposable RegisterCallback(ModelEventKind kind, Action<string> callback);

    /// <summary>Raised for every model event; handler exceptions are logged and ignored.</summary>
    event EventHandler<ModelEventArgs>? ModelEvent;

    /// <summary>Raised as loads progress (0 to 1), for progress bars; handler exceptions are ignored.</summary>
    event EventHandler<ModelLoadProgress>? LoadProgress;

    /// <summary>Raised after the configuration source changed (hot reload), whether the new configuration was applied or rejected.</summary>
    event EventHandler<ConfigurationReloadedEventArgs>? ConfigurationReloaded;

    /// <summary>Stops the manager: waits for in-flight calls until <paramref name="cancellationToken"/> fires, then cancels them, and unloads every model.</summary>
    Task ShutdownAsync(CancellationToken cancellationToken = default);
}
