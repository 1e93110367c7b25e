namespace AgentHost;

/// <summary>What one agent job produced.</summary>
/// <param name="Agent">The agent's name.</param>
/// <param name="Model">The model that served the job (a fallback when the agent's own could not load).</param>
/// <param name="Text">The generated text.</param>
/// <param name="Duration">How long the job took, including any model load.</param>
/// <param name="PromptTokens">Tokens of the rendered prompt, as the model counted them.</param>
/// <param name="GeneratedTokens">Tokens generated.</param>
/// <param name="Truncated">True when <c>max_tokens</c> (or the context) cut the text short.</param>
public sealed record AgentResult(string Agent, string Model, string Text, TimeSpan Duration, long? PromptTokens, long? GeneratedTokens, bool Truncated);
