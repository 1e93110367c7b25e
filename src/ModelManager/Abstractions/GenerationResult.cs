namespace ModelManager;

/// <summary>A finished generation: its text, the model that served it, and why it ended with the tokens it took.</summary>
/// <param name="Text">The generated text (stop sequences removed).</param>
/// <param name="ModelName">The model that served the call: the requested one, or a fallback.</param>
/// <param name="Outcome">Why the generation ended and what it cost.</param>
public sealed record GenerationResult(string Text, string ModelName, GenerationOutcome Outcome);
