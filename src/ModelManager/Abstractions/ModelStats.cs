namespace ModelManager;

/// <summary>A snapshot of one model's counters.</summary>
public sealed record ModelStats
{
    /// <summary>The model's name.</summary>
    public required string Name { get; init; }

    /// <summary>The model's backend type.</summary>
    public required string Type { get; init; }

    /// <summary>Where the model is in its life cycle.</summary>
    public required ModelState State { get; init; }

    /// <summary>Calls and leases served since start.</summary>
    public long AccessCount { get; init; }

    /// <summary>Megabytes the model holds in the budget now (0 when unloaded).</summary>
    public double MemoryUsageMb { get; init; }

    /// <summary>The backend's estimate before the last load, in bytes.</summary>
    public long EstimatedBytes { get; init; }

    /// <summary>The bytes the backend reported after the last load.</summary>
    public long ActualBytes { get; init; }

    /// <summary>Leases held now.</summary>
    public int ActiveLeases { get; init; }

    /// <summary>Generation calls the model holds now, running or waiting (bounded by <c>max_queue</c>).</summary>
    public int ActiveCalls { get; init; }

    /// <summary>Calls refused because the model was full (<c>max_queue</c>) or that waited past <c>queue_timeout</c>.</summary>
    public long BusyCount { get; init; }

    /// <summary>Eviction priority, 1 (keep longest) to 5 (evict first).</summary>
    public int Priority { get; init; }

    /// <summary>When the model was last used, or null if never.</summary>
    public DateTimeOffset? LastAccessUtc { get; init; }

    /// <summary>Successful loads since start.</summary>
    public int LoadCount { get; init; }

    /// <summary>Times the manager evicted the model (capacity, idle, limit).</summary>
    public int EvictionCount { get; init; }

    /// <summary>How long the last successful load took.</summary>
    public TimeSpan? LastLoadDuration { get; init; }

    /// <summary>Failed loads since start.</summary>
    public int FailureCount { get; init; }

    /// <summary>Times another model served because this one could not load.</summary>
    public int FallbackCount { get; init; }

    /// <summary>The loaded model's prompt cache since it loaded, or null when it has none (not loaded, not gguf, or <c>prompt_cache</c> 0).</summary>
    public PromptCacheStats? PromptCache { get; init; }

    /// <summary>Bytes of the loaded model's weights in 2 MB pages (gguf on Linux with THP <c>madvise</c> and <c>huge_pages</c> auto), measured after its load; 0 otherwise.</summary>
    public long HugePageBytes { get; init; }

    /// <summary>Until when the model is not retried after its file failed to load (<c>failure_cooldown</c>; calls fail over at once), or null.</summary>
    /// <remarks>Ends early when the file changes (length or write time) or a reload changes the model's settings.</remarks>
    public DateTimeOffset? CoolDownUntil { get; init; }
}
