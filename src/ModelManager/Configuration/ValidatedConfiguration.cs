namespace ModelManager;

/// <summary>The configuration after validation: descriptors resolved, limits in bytes.</summary>
internal sealed record ValidatedConfiguration(
    IReadOnlyList<ModelDescriptor> Models,
    IReadOnlyDictionary<string, AgentDescriptor> Agents,
    string? DefaultModel,
    long LimitBytes,
    TimeSpan LoadWaitTimeout,
    TimeSpan LoadTimeout,
    TimeSpan FailureCooldown,
    IReadOnlyList<string> Warnings);

/// <summary>An agent's resolved model chain.</summary>
internal sealed record AgentDescriptor(string Name, string Model, IReadOnlyList<string> Fallbacks);
