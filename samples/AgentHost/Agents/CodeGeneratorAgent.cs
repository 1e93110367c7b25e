using System.Diagnostics;

namespace AgentHost;

/// <summary>Writes code by plain completion: it takes the <see cref="ILanguageModel"/> handle rather than a chat client.</summary>
public sealed class CodeGeneratorAgent([FromKeyedServices(nameof(CodeGeneratorAgent))] ILanguageModel model)
    : Agent(nameof(CodeGeneratorAgent), "completes code (raw completion)", model.AsChatClient())
{
    public override string Injection => $"[FromKeyedServices(\"{Name}\")] ILanguageModel";

    public override async Task<AgentResult> RunAsync(string task, int maxTokens, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var text = await model.GenerateAsync(task, new GenerationOptions { MaxTokens = maxTokens, Temperature = 0 }, cancellationToken);

        // ILanguageModel does not say which model served the call; this agent has no fallbacks, so it is the configured one.
        return new AgentResult(Name, ConfiguredModel ?? "?", text, watch.Elapsed);
    }
}
