namespace AgentHost;

/// <summary>Answers questions about the codebase.</summary>
public sealed class CodebaseExpertAgent([FromKeyedServices(nameof(CodebaseExpertAgent))] IChatClient chat)
    : Agent(nameof(CodebaseExpertAgent), "answers questions about the code", chat);
