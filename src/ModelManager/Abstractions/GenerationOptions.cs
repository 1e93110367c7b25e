namespace ModelManager;

/// <summary>Per-call generation settings; a null property takes the model's configured <c>parameters</c>.</summary>
public sealed class GenerationOptions
{
    /// <summary>Most tokens to generate (config <c>max_tokens</c>).</summary>
    public int? MaxTokens { get; set; }

    /// <summary>Sampling temperature (config <c>temperature</c>); 0 means greedy.</summary>
    public double? Temperature { get; set; }

    /// <summary>Whether to sample (config <c>do_sample</c>); false means greedy decoding.</summary>
    public bool? DoSample { get; set; }

    /// <summary>Nucleus sampling threshold (config <c>top_p</c>).</summary>
    public double? TopP { get; set; }

    /// <summary>Top-k sampling cut-off (config <c>top_k</c>).</summary>
    public int? TopK { get; set; }

    /// <summary>Random seed for reproducible sampling (config <c>seed</c>).</summary>
    public long? Seed { get; set; }

    /// <summary>Texts that end generation when produced (config <c>stop</c>); the stop text itself is not returned.</summary>
    public IList<string>? StopSequences { get; set; }

    /// <summary>True when decoding must be greedy: <see cref="DoSample"/> is false, or the temperature is 0.</summary>
    public bool IsGreedy => DoSample == false || Temperature is <= 0;

    /// <summary>Returns a copy in which every unset property takes the value from <paramref name="defaults"/>.</summary>
    public GenerationOptions WithDefaults(GenerationOptions? defaults)
    {
        if (defaults is null)
        {
            return this;
        }

        return new GenerationOptions
        {
            MaxTokens = MaxTokens ?? defaults.MaxTokens,
            Temperature = Temperature ?? defaults.Temperature,
            DoSample = DoSample ?? (Temperature is > 0 ? true : defaults.DoSample),
            TopP = TopP ?? defaults.TopP,
            TopK = TopK ?? defaults.TopK,
            Seed = Seed ?? defaults.Seed,
            StopSequences = StopSequences ?? defaults.StopSequences,
        };
    }

    /// <inheritdoc />
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"max_tokens={MaxTokens} temperature={Temperature} do_sample={DoSample} top_p={TopP} top_k={TopK} seed={Seed} stop={StopSequences?.Count ?? 0}");
}
