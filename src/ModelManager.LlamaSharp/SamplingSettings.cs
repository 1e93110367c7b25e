namespace ModelManager;

/// <summary>The settings of sampled (not greedy) decoding, resolved from a request's options with the gguf backend's defaults.</summary>
internal readonly record struct SamplingSettings(float Temperature, float TopP, int TopK, uint Seed)
{
    /// <summary>Null when <paramref name="options"/> ask for greedy decoding (explicitly, or by setting neither temperature nor do_sample).</summary>
    public static SamplingSettings? From(GenerationOptions options)
    {
        if (options.IsGreedy || options.Temperature is null && options.DoSample != true)
        {
            return null;
        }

        return new SamplingSettings(
            (float)(options.Temperature ?? 0.8),
            (float)(options.TopP ?? 0.95),
            options.TopK ?? 40,
            options.Seed is { } seed ? unchecked((uint)seed) : (uint)Random.Shared.Next());
    }
}
