namespace ModelManager;

/// <summary>Small helpers for backends.</summary>
internal static class GenerationOptionsExtensions
{
    /// <summary>A copy of <paramref name="options"/> with other stop sequences.</summary>
    public static GenerationOptions With(this GenerationOptions options, IList<string> stopSequences) => new()
    {
        MaxTokens = options.MaxTokens,
        Temperature = options.Temperature,
        DoSample = options.DoSample,
        TopP = options.TopP,
        TopK = options.TopK,
        Seed = options.Seed,
        StopSequences = stopSequences,
    };
}
