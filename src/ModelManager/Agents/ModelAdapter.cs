namespace ModelManager;

/// <summary>The integration guide's phase-1 shim: legacy code keeps a <c>Model</c> property, now managed.</summary>
/// <remarks>Thread-safe. The adapter owns nothing; the model it returns is a handle that loads on use.</remarks>
public sealed class ModelAdapter
{
    private readonly IModelManager _manager;
    private readonly Lazy<ILanguageModel> _model;

    /// <summary>Creates an adapter for <paramref name="agentName"/>.</summary>
    public ModelAdapter(IModelManager manager, string agentName)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentException.ThrowIfNullOrEmpty(agentName);
        _manager = manager;
        AgentName = agentName;
        _model = new Lazy<ILanguageModel>(() => _manager.GetAgentModel(AgentName), LazyThreadSafetyMode.ExecutionAndPublication);
    }

    /// <summary>The agent whose model this adapter serves.</summary>
    public string AgentName { get; }

    /// <summary>The agent's model, resolved on first access; it loads on first use and reloads after eviction.</summary>
    public ILanguageModel Model => _model.Value;

    /// <summary>Resolves the agent's model and waits until it (or a fallback) is loaded.</summary>
    public async Task<ILanguageModel> GetLoadedModelAsync(CancellationToken cancellationToken = default)
    {
        await using var lease = await _manager.AcquireAsync(ResolveModelName(), cancellationToken).ConfigureAwait(false);
        return Model;
    }

    private string ResolveModelName() => Model is ModelHandle m ? m.Primary.Name : Model.Name;
}
