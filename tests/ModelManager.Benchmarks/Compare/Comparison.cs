namespace ModelManager.Benchmarks.Compare;

/// <summary>One measured pair: baseline and candidate samples of the same quantity, and the target their ratio must meet.</summary>
/// <param name="Name">The row's name, e.g. <c>generation/stories260K/handle</c>.</param>
/// <param name="Baseline">What the baseline is (the direct library call).</param>
/// <param name="Candidate">What the candidate is (the manager's way).</param>
/// <param name="Unit">The unit of both samples (<c>ms</c>, <c>tok/s</c>, <c>MB</c>).</param>
/// <param name="HigherIsBetter">True for throughput, false for time and memory.</param>
/// <param name="BaselineSamples">One sample per run.</param>
/// <param name="CandidateSamples">One sample per run.</param>
/// <param name="Target">The ratio (candidate / baseline) the issue asks for, or null when the row only informs.</param>
/// <param name="Notes">What was measured and how, in a sentence.</param>
internal sealed record Comparison(
    string Name,
    string Baseline,
    string Candidate,
    string Unit,
    bool HigherIsBetter,
    IReadOnlyList<double> BaselineSamples,
    IReadOnlyList<double> CandidateSamples,
    double? Target,
    string Notes)
{
    public double BaselineMedian => Stats.Median(BaselineSamples);

    public double CandidateMedian => Stats.Median(CandidateSamples);

    /// <summary>Candidate median over baseline median.</summary>
    public double Ratio => BaselineMedian == 0 ? double.NaN : CandidateMedian / BaselineMedian;

    public int Runs => Math.Min(BaselineSamples.Count, CandidateSamples.Count);

    /// <summary>The target as text: <c>≤ 1.05</c> or <c>≥ 0.97</c>.</summary>
    public string TargetText => Target is { } t ? $"{(HigherIsBetter ? ">=" : "<=")} {t:0.###}" : "";

    /// <summary>True, false, or null when there is no target.</summary>
    public bool? TargetMet => Target is { } t ? HigherIsBetter ? Ratio >= t : Ratio <= t : null;
}
