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
        return Result(response, response.Text, watch.Elapsed);
    }

    /// <summary>Asks for a typed answer: structured output, the JSON schema of <typeparamref name="T"/> enforced while decoding.</summary>
    public async Task<(T? Value, AgentResult Result)> AskForAsync<T>(string task, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var response = await chat.GetResponseAsync<T>([new ChatMessage(ChatRole.User, task)], new ChatOptions { Temperature = 0 }, cancellationToken: cancellationToken);
        return (response.TryGetResult(out var value) ? value : default, Result(response, response.Text, watch.Elapsed));
    }

    /// <summary>Answers with a tool: the model must call <paramref name="tool"/>, the function runs (<c>UseFunctionInvocation</c>), then the model answers in text.</summary>
    /// <remarks>No <c>MaxOutputTokens</c>: the call ends when it is complete, and the text answer gets the model's configured <c>max_tokens</c>.</remarks>
    public async Task<(ChatResponse Response, AgentResult Result)> AskWithToolAsync(string task, AIFunction tool, CancellationToken cancellationToken)
    {
        // Not disposed: disposing a pipeline disposes the client under it, which the container owns.
        var withTools = new FunctionInvokingChatClient(chat);
        var watch = Stopwatch.StartNew();
        var response = await withTools.GetResponseAsync(
            [new ChatMessage(ChatRole.User, task)],
            new ChatOptions { Tools = [tool], ToolMode = ChatToolMode.RequireSpecific(tool.Name), Temperature = 0 },
            cancellationToken);
        return (response, Result(response, response.Messages[^1].Text, watch.Elapsed));
    }

    private AgentResult Result(ChatResponse response, string text, TimeSpan elapsed) =>
        new(Name, response.ModelId ?? ConfiguredModel ?? "?", text, elapsed,
            response.Usage?.InputTokenCount, response.Usage?.OutputTokenCount, response.FinishReason == ChatFinishReason.Length);
}
