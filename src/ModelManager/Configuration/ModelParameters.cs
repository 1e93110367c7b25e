namespace ModelManager;

/// <summary>A model's <c>parameters</c>: default generation settings, overridable per call.</summary>
public sealed class ModelParameters
{
    /// <summary><c>temperature</c>. Default: the backend's.</summary>
    public double? Temperature { get; set; }

    /// <summary><c>max_tokens</c>: most tokens one call generates. Default: the backend's (256).</summary>
    public int? MaxTokens { get; set; }

    /// <summary><c>do_sample</c>: false means greedy decoding. Default: sample when temperature &gt; 0.</summary>
    public bool? DoSample { get; set; }

    /// <summary><c>top_p</c>. Default: the backend's.</summary>
    public double? TopP { get; set; }

    /// <summary><c>top_k</c>. Default: the backend's.</summary>
    public int? TopK { get; set; }

    /// <summary><c>seed</c>: makes sampling reproducible. Default: random.</summary>
    public long? Seed { get; set; }

    /// <summary><c>stop</c>: stop sequences. Default none.</summary>
    public IList<string> Stop { get; set; } = [];

    internal GenerationOptions ToGenerationOptions() => new()
    {
        Temperature = Temperature,
        MaxTokens = MaxTokens,
        DoSample = DoSample ?? (Temperature is { } t ? t > 0 : null),
        TopP = TopP,
        TopK = TopK,
        Seed = Seed,
        StopSequences = Stop.Count == 0 ? null : Stop.ToArray(),
    };
}
