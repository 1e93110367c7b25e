namespace ModelManager.Benchmarks.Compare;

/// <summary>Order statistics of a handful of samples.</summary>
internal static class Stats
{
    public static double Median(IReadOnlyList<double> samples)
    {
        if (samples.Count == 0)
        {
            return double.NaN;
        }

        var sorted = samples.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    public static double Min(IReadOnlyList<double> samples) => samples.Count == 0 ? double.NaN : samples.Min();

    public static double Max(IReadOnlyList<double> samples) => samples.Count == 0 ? double.NaN : samples.Max();

    /// <summary>Half the range, relative to the median, in percent: the ± to read beside a median.</summary>
    public static double SpreadPercent(IReadOnlyList<double> samples)
    {
        var median = Median(samples);
        return samples.Count < 2 || median == 0 ? 0 : (Max(samples) - Min(samples)) / 2 / Math.Abs(median) * 100;
    }
}
