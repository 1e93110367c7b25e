namespace ModelManager;

internal sealed partial class DefaultModelManager
{
    public MemoryUsage GetMemoryUsage()
    {
        lock (_budgetLock)
        {
            var models = new Dictionary<string, ModelMemoryUsage>(StringComparer.Ordinal);
            foreach (var e in _entryList)
            {
                if (e.ChargedBytes > 0)
                {
                    models[e.Name] = new ModelMemoryUsage(e.EstimatedBytes, e.ActualBytes, e.ChargedBytes);
                }
            }

            return new MemoryUsage { TotalBytes = _usedBytes, LimitBytes = _limitBytes, Models = models };
        }
    }

    public IReadOnlyDictionary<string, ModelStats> GetModelStats()
    {
        var now = _time.GetUtcNow();
        var stats = new Dictionary<string, ModelStats>(StringComparer.Ordinal);
        lock (_budgetLock)
        {
            foreach (var e in _entryList)
            {
                var accesses = Interlocked.Read(ref e.AccessCount);
                stats[e.Name] = new ModelStats
                {
                    Name = e.Name,
                    Type = e.Descriptor.Type,
                    State = e.State,
                    AccessCount = accesses,
                    MemoryUsageMb = e.ChargedBytes / Mb,
                    EstimatedBytes = e.EstimatedBytes,
                    ActualBytes = e.ActualBytes,
                    ActiveLeases = Math.Max(0, e.Leases),
                    Priority = e.Priority,
                    LastAccessUtc = accesses == 0 && e.LoadCount == 0 ? null : now - _time.GetElapsedTime(Volatile.Read(ref e.LastAccessTimestamp)),
                    LoadCount = Volatile.Read(ref e.LoadCount),
                    EvictionCount = Volatile.Read(ref e.EvictionCount),
                    LastLoadDuration = e.LastLoadDuration,
                    FailureCount = Volatile.Read(ref e.FailureCount),
                    FallbackCount = Volatile.Read(ref e.FallbackCount),
                };
            }
        }

        return stats;
    }
}
