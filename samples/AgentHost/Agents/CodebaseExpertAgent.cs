using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace AgentHost;

/// <summary>Answers questions about the codebase.</summary>
public sealed class CodebaseExpertAgent([FromKeyedServices(nameof(CodebaseExpertAgent))] IChatClient chat)
    : Agent(nameof(CodebaseExpertAgent), chat)
{
    public override string Job => "answers questions about the code";
}
