namespace AgentHost;

/// <summary>Any agent a user's config names that the sample has no class for.</summary>
public sealed class GenericAgent(string name, IChatClient chat) : Agent(name, "runs one prompt (no class of its own)", chat)
{
    public override string Injection => $"GetRequiredKeyedService<IChatClient>(\"{Name}\")";
}
