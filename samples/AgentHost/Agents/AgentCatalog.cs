namespace AgentHost;

/// <summary>Registers the sample's agents and finds the one for an agent name in a user's config.</summary>
public static class AgentCatalog
{
    public static IServiceCollection AddAgents(this IServiceCollection services) => services
        .AddSingleton<CodebaseExpertAgent>()
        .AddSingleton<CodeGeneratorAgent>()
        .AddSingleton<SummarizerAgent>()
        .AddSingleton<ReviewerAgent>()
        .AddSingleton<RetrievalAgent>();

    /// <summary>The sample's class for <paramref name="name"/>; else a <see cref="MemoryAgent"/> for an embedding model, or a <see cref="GenericAgent"/> over the keyed chat client.</summary>
    public static Agent Resolve(IServiceProvider services, string name) => name switch
    {
        nameof(CodebaseExpertAgent) => services.GetRequiredService<CodebaseExpertAgent>(),
        nameof(CodeGeneratorAgent) => services.GetRequiredService<CodeGeneratorAgent>(),
        nameof(SummarizerAgent) => services.GetRequiredService<SummarizerAgent>(),
        nameof(ReviewerAgent) => services.GetRequiredService<ReviewerAgent>(),
        _ when services.GetRequiredKeyedService<IChatClient>(name).GetService<ModelDescriptor>() is { } model
               && !model.Capabilities.HasFlag(ModelCapabilities.Chat) =>
            new MemoryAgent(name, services.GetRequiredKeyedService<IChatClient>(name), services.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(name)),
        _ => new GenericAgent(name, services.GetRequiredKeyedService<IChatClient>(name)),
    };
}
