namespace ModelManager;

/// <summary>Reports how far a model's load has come.</summary>
/// <param name="ModelName">The model being loaded.</param>
/// <param name="Progress">0 to 1.</param>
public sealed record ModelLoadProgress(string ModelName, double Progress);
