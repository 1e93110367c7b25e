namespace ModelManager;

/// <summary>A snapshot of the memory budget.</summary>
public sealed record MemoryUsage
{
    private const double Mb = 1024 * 1024;

    /// <summary>Bytes held by loaded and loading models (the larger of estimate and actual for each).</summary>
    public required long TotalBytes { get; init; }

    /// <summary>The budget in bytes.</summary>
    public required long LimitBytes { get; init; }

    /// <summary>Per-model figures, for every model that holds memory now.</summary>
    public required IReadOnlyDictionary<string, ModelMemoryUsage> Models { get; init; }

    /// <summary><see cref="TotalBytes"/> in megabytes.</summary>
    public double TotalMb => TotalBytes / Mb;

    /// <summary><see cref="LimitBytes"/> in megabytes.</summary>
    public double LimitMb => LimitBytes / Mb;

    /// <summary>Bytes still free in the budget.</summary>
    public long AvailableBytes => Math.Max(0, LimitBytes - TotalBytes);

    /// <summary>Fraction of the budget in use, 0..1 (may exceed 1 only if a backend under-reported).</summary>
    public double UsedFraction => LimitBytes == 0 ? 0 : (double)TotalBytes / LimitBytes;
}

/// <summary>One model's share of the budget.</summary>
/// <param name="EstimatedBytes">The backend's estimate before loading.</param>
/// <param name="ActualBytes">What the backend reported after loading (0 while loading).</param>
/// <param name="ChargedBytes">What the budget counts: the larger of the two, plus <see cref="CacheBytes"/>.</param>
public sealed record ModelMemoryUsage(long EstimatedBytes, long ActualBytes, long ChargedBytes)
{
    /// <summary>Bytes of a cache the model fills while loaded (the gguf prompt cache), charged as it grows and given back under memory pressure before any model is evicted.</summary>
    public long CacheBytes { get; init; }

    /// <summary><see cref="EstimatedBytes"/> in megabytes.</summary>
    public double EstimatedMb => EstimatedBytes / (1024.0 * 1024);

    /// <summary><see cref="ActualBytes"/> in megabytes.</summary>
    public double ActualMb => ActualBytes / (1024.0 * 1024);

    /// <summary><see cref="ChargedBytes"/> in megabytes.</summary>
    public double ChargedMb => ChargedBytes / (1024.0 * 1024);
}
