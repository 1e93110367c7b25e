namespace ModelManager;

/// <summary>What a backend knows about one finished generation: why it ended and the tokens it took.</summary>
/// <param name="FinishReason">Why the generation ended.</param>
/// <param name="PromptTokens">Tokens of the rendered prompt (chat template applied); null when the backend cannot know (a server that sends no usage).</param>
/// <param name="GeneratedTokens">Tokens generated, stop sequences included; null when the backend cannot know.</param>
/// <param name="CachedPromptTokens">Prompt tokens served from a cache instead of being evaluated; 0 without a cache.</param>
public sealed record GenerationOutcome(GenerationFinishReason FinishReason, int? PromptTokens, int? GeneratedTokens, int? CachedPromptTokens = 0)
{
    /// <summary>Prompt plus generated tokens, when both are known.</summary>
    public int? TotalTokens => PromptTokens + GeneratedTokens;

    /// <summary>True when the text was cut short by a limit (<see cref="GenerationFinishReason.MaxTokens"/> or <see cref="GenerationFinishReason.ContextFull"/>).</summary>
    public bool IsTruncated => FinishReason is GenerationFinishReason.MaxTokens or GenerationFinishReason.ContextFull;
}
