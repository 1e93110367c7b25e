using System.Diagnostics;

namespace AgentHost;

/// <summary>An agent: a name, a job, and a chat client over the model the configuration gives it.</summary>
/// <remarks>
/// The agent never names a model: the container hands it <c>[FromKeyedServices("AgentName")] IChatClient</c>, and the
/// manager resolves that to the agent's entry in <c>agents</c> (model plus fallbacks). Each call leases the model, so the
/// manager may evict it between calls and reload it on the next one.
/// </remarks>
public abstract class Agent(string name, string job, IChatClient chat)
{
    public string Name { get; } = name;

    /// <summary>What the agent does, for the agents table.</summary>
    public string Job { get; } = job;

    /// <summary>How the agent receives its model, for the agents table.</summary>
    public virtual string Injection => $"[FromKeyedServices(\"{Name}\")] IChatClient";

    /// <summary>The model the agent is configured with (the head of its fallback chain).</summary>
    public string? ConfiguredModel => chat.GetService<ModelDescriptor>()?.Name;

    /// <summary>Runs one job; the response says which model served it.</summary>
    public virtual async Task<AgentResult> RunAsync(string task, int maxTokens, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var response = await chat.GetResponseAsync(
            [new ChatMessage(ChatRole.User, task)],
            new ChatOptions { MaxOutputTokens = maxTokens, Temperature = 0 },
            cancellationToken);
        return new AgentResult(Name, response.ModelId ?? ConfiguredModel ?? "?", response.Text, watch.Elapsed,
            response.Usage?.InputTokenCount, response.Usage?.OutputTokenCount, response.FinishReason == ChatFinishReason.Length);
    }
}
