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
        var result = await model.GenerateResultAsync(task, new GenerationOptions { MaxTokens = maxTokens, Temperature = 0 }, cancellationToken);
        return new AgentResult(Name, result.ModelName, result.Text, watch.Elapsed,
            result.Outcome.PromptTokens, result.Outcome.GeneratedTokens, result.Outcome.IsTruncated);
    }
}
