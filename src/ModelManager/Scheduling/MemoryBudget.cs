namespace ModelManager;

/// <summary>The memory budget: what is charged to whom, who may be evicted, and the signal that memory changed.</summary>
/// <remarks>
/// Thread-safe; one short private lock guards the used and limit bytes, every entry's <see cref="Share"/> and the list of
/// entries that may hold memory. It decides and begins evictions (an entry's Ready → Unloading); the manager finishes them.
/// Lock order: this lock, then an entry's gate.
/// </remarks>
internal sealed class MemoryBudget
{
    public const double Mb = 1024 * 1024;

    private readonly object _lock = new();
    private long _limitBytes;
    private long _usedBytes;
    private TaskCompletionSource _changed = NewSignal();

    // Every entry that may hold memory: the configured ones plus removed ones still unloading.
    private volatile ModelEntry[] _entries;

    // Non-zero while a load waits for memory or the budget is over its limit: lease releases then wake the scheduler.
    private int _waiters;
    private int _overLimit;

    public MemoryBudget(long limitBytes, ModelEntry[] entries)
    {
        _limitBytes = limitBytes;
        _entries = entries;
    }

    /// <summary>One entry's share of the budget; read and written only under the budget's lock.</summary>
    public sealed class Share
    {
        /// <summary>Bytes counted against the budget: the reservation while loading, then max(estimate, actual).</summary>
        public long Charged;

        /// <summary>The backend's last estimate.</summary>
        public long Estimated;

        /// <summary>What the loaded instance reported; kept after unload, so the next load reserves at least that.</summary>
        public long Actual;

        /// <summary>
        /// Set when a load measured more than the whole budget: the next load tries once more with the estimate, since
        /// a measurement can hold one-time costs of the process; a second such measurement makes the model a permanent misfit.
        /// </summary>
        public bool OverBudgetOnce;

        /// <summary>The part of <see cref="Charged"/> the loaded instance can give back (its <see cref="IReclaimableMemory"/>).</summary>
        public long Cache;

        /// <summary>The grant of the instance loaded now, or null; a released entry's grant is revoked.</summary>
        public Grant? Grant;
    }

    /// <summary>A loaded instance's <see cref="IMemoryGrant"/>: valid while it is the entry's current one.</summary>
    public sealed class Grant(MemoryBudget budget, ModelEntry entry) : IMemoryGrant
    {
        public ModelEntry Entry { get; } = entry;

        public bool TryGrow(long bytes) => budget.TryGrow(this, bytes);

        public void Shrink(long bytes) => budget.Shrink(this, bytes);
    }

    public long UsedBytes => Interlocked.Read(ref _usedBytes);

    public long LimitBytes => Interlocked.Read(ref _limitBytes);

    public ModelEntry[] Entries => _entries;

    /// <summary>True when a lease release should call <see cref="MemoryBudget"/> back (a load waits, or the budget is over).</summary>
    public bool WantsDrainSignal => (Volatile.Read(ref _waiters) | Volatile.Read(ref _overLimit)) != 0;

    /// <summary>Is over its limit and waits for leases to drain before it can evict what remains.</summary>
    public bool IsOverLimit => Volatile.Read(ref _overLimit) != 0;

    /// <summary>The one eviction rule: may <paramref name="e"/> be evicted now for a requester of <paramref name="minPriorityNumber"/>?</summary>
    /// <remarks>
    /// Now: Ready, no lease, priority number ≥ <paramref name="minPriorityNumber"/> (no more important than the requester),
    /// not the requester itself. <paramref name="eventually"/>: the same once leases drain and loads in flight settle, so
    /// leased models count, and so does memory held by loads (which may fail) and unloads (which will free it).
    /// </remarks>
    public static bool IsEvictable(ModelEntry e, int minPriorityNumber, ModelEntry? requester, bool eventually = false) =>
        e != requester && (eventually
            ? e.Priority >= minPriorityNumber || e.State is ModelState.Loading or ModelState.Unloading
            : e.State == ModelState.Ready && e.Leases == 0 && e.Priority >= minPriorityNumber);

    /// <summary>Replaces the tracked entries (a reload); <paramref name="update"/> runs under the lock.</summary>
    public void UpdateEntries(Func<ModelEntry[], ModelEntry[]> update)
    {
        lock (_lock)
        {
            _entries = update(_entries);
        }
    }

    /// <summary>
    /// Records the backend's estimate; returns what a load must reserve: the estimate, or more if the model once used more.
    /// A model that measured more than the whole budget once gets one more load on its estimate before that measurement
    /// counts: a measurement can hold a one-time cost of the process (a native runtime's start, before the ONNX backend
    /// paid it apart), and a model that loaded once must not be refused for good on that alone. Measured over the budget twice
    /// running, it is (a <see cref="ModelMemoryException"/> saying it needs more than the whole budget).
    /// </summary>
    public long RecordEstimate(ModelEntry entry, long estimate)
    {
        lock (_lock)
        {
            entry.Memory.Estimated = estimate;
            if (entry.Memory.Actual > _limitBytes && estimate <= _limitBytes && !entry.Memory.OverBudgetOnce)
            {
                entry.Memory.OverBudgetOnce = true;
                return estimate;
            }

            return Math.Max(estimate, entry.Memory.Actual);
        }
    }

    /// <summary>
    /// One step of a reservation: charge <paramref name="bytes"/> if they fit; else, when the loaded models' caches would
    /// make room, name them (the caller reclaims them and tries again); else begin evicting idle models no more important
    /// than <paramref name="entry"/> (returned as victims, for the caller to finish unloading and try again); else reclaim
    /// what caches there are; else return the signal to wait on. Throws when the reservation can never succeed.
    /// A cache is dropped for any load, whatever the priorities: it costs its model a slower next turn, never its place.
    /// </summary>
    /// <param name="entry">The model to load.</param>
    /// <param name="bytes">What it needs.</param>
    /// <param name="reclaim">False once a reclaim freed nothing, so that a backend that cannot give its cache back does not stall the load.</param>
    public ReserveStep TryReserve(ModelEntry entry, long bytes, bool reclaim = true)
    {
        lock (_lock)
        {
            if (_usedBytes + bytes <= _limitBytes)
            {
                _usedBytes += bytes;
                entry.Memory.Charged = bytes;
                return default;
            }

            if (bytes > _limitBytes)
            {
                throw CreateMemoryException(entry, bytes, "it needs more than the whole budget");
            }

            var needed = _usedBytes + bytes - _limitBytes - PendingFreeBytes();
            if (needed > 0 && reclaim && SelectReclaims(needed, entry, acceptPartial: false) is { } reclaims)
            {
                return new ReserveStep(null, null, reclaims); // caches go before any model does
            }

            if (needed > 0 && SelectVictims(needed, entry.Priority, entry, UnloadReason.Capacity, acceptPartial: false) is { } victims)
            {
                return new ReserveStep(victims, null);
            }

            if (needed > 0 && reclaim && SelectReclaims(needed, entry, acceptPartial: true) is { } some)
            {
                return new ReserveStep(null, null, some); // not enough alone: the caches, then the models that cover the rest
            }

            if (!CouldEverFit(entry, bytes))
            {
                throw CreateMemoryException(entry, bytes, "the memory is held by more important models, which a load never evicts");
            }

            Interlocked.Increment(ref _waiters);
            return new ReserveStep(null, _changed.Task);
        }
    }

    /// <summary>Ends a wait begun by <see cref="TryReserve"/>.</summary>
    public void EndWait() => Interlocked.Decrement(ref _waiters);

    /// <summary>Throws unless <paramref name="bytes"/> fit now, counting idle models no more important than <paramref name="entry"/> as room.</summary>
    /// <remarks>For fallback chains: a candidate that would have to wait for leases fails over at once.</remarks>
    public void EnsureFitsNow(ModelEntry entry, long bytes)
    {
        lock (_lock)
        {
            var free = _limitBytes - _usedBytes + PendingFreeBytes();
            foreach (var e in _entries)
            {
                if (IsEvictable(e, entry.Priority, entry))
                {
                    free += e.Memory.Charged;
                }
                else if (e != entry && e.State == ModelState.Ready)
                {
                    free += e.Memory.Cache; // given back at once, whoever holds it
                }
            }

            if (bytes > free)
            {
                throw CreateMemoryException(entry, bytes, "the models that hold memory are in use or more important");
            }
        }
    }

    /// <summary>A load finished: charge max(reserved, <paramref name="actual"/>); returns the bytes the budget is now over its limit.</summary>
    public long ChargeLoaded(ModelEntry entry, long reserved, long actual)
    {
        lock (_lock)
        {
            var charged = Math.Max(reserved, actual);
            _usedBytes += charged - entry.Memory.Charged;
            entry.Memory.Charged = charged;
            entry.Memory.Actual = actual;
            if (actual <= _limitBytes)
            {
                entry.Memory.OverBudgetOnce = false; // the retry's measurement fit: the earlier one held one-time costs
            }
            return _usedBytes - _limitBytes;
        }
    }

    /// <summary>Returns the entry's charge (its cache included) to the budget and revokes its grant; returns the bytes freed. The caller signals waiters (<see cref="SignalChanged"/>) when its state change is done.</summary>
    public long Release(ModelEntry entry)
    {
        lock (_lock)
        {
            var freed = entry.Memory.Charged;
            _usedBytes -= freed;
            entry.Memory.Charged = 0;
            entry.Memory.Cache = 0;
            entry.Memory.Grant = null;
            return freed;
        }
    }

    /// <summary>A new grant for the instance <paramref name="entry"/> just published; the old one, if any, is revoked.</summary>
    public Grant CreateGrant(ModelEntry entry)
    {
        var grant = new Grant(this, entry);
        lock (_lock)
        {
            entry.Memory.Grant = grant;
        }

        return grant;
    }

    private bool TryGrow(Grant grant, long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        lock (_lock)
        {
            var share = grant.Entry.Memory;
            if (share.Grant != grant || _usedBytes + bytes > _limitBytes)
            {
                return false;
            }

            _usedBytes += bytes;
            share.Charged += bytes;
            share.Cache += bytes;
            return true;
        }
    }

    private void Shrink(Grant grant, long bytes)
    {
        lock (_lock)
        {
            var share = grant.Entry.Memory;
            if (share.Grant != grant)
            {
                return;
            }

            var freed = Math.Clamp(bytes, 0, share.Cache);
            _usedBytes -= freed;
            share.Charged -= freed;
            share.Cache -= freed;
        }

        if (WantsDrainSignal)
        {
            SignalChanged();
        }
    }

    /// <summary>When the budget is over its limit and loaded models' caches hold memory, what to reclaim from each; else null.</summary>
    public List<(ModelEntry Entry, long Bytes)>? SelectOverLimitReclaims(ModelEntry? requester)
    {
        lock (_lock)
        {
            var needed = _usedBytes - _limitBytes - PendingFreeBytes();
            return needed > 0 ? SelectReclaims(needed, requester, acceptPartial: true) : null;
        }
    }

    /// <summary>A reconfigured model's old size says nothing of its new one.</summary>
    public void ForgetActual(ModelEntry entry)
    {
        lock (_lock)
        {
            if (entry.Memory.Charged == 0)
            {
                entry.Memory.Actual = 0;
            }
        }
    }

    /// <summary>Sets the limit; returns the old one. The caller enforces it with <see cref="SelectOverLimitVictims"/>.</summary>
    public long SetLimit(long bytes)
    {
        lock (_lock)
        {
            var old = _limitBytes;
            _limitBytes = bytes;
            return old;
        }
    }

    /// <summary>
    /// Begins evicting idle models of priority number ≥ <paramref name="minPriorityNumber"/>, least important and least
    /// recently used first, until the budget is within its limit. Returns the victims to finish; null when nothing is over
    /// (or nothing evictable is left: then the budget waits for leases to drain, see <see cref="IsOverLimit"/>).
    /// </summary>
    public List<ModelEntry>? SelectOverLimitVictims(UnloadReason reason, int minPriorityNumber, ModelEntry? requester)
    {
        lock (_lock)
        {
            var needed = _usedBytes - _limitBytes - PendingFreeBytes();
            if (needed <= 0)
            {
                Volatile.Write(ref _overLimit, 0);
                return null;
            }

            var victims = SelectVictims(needed, minPriorityNumber, requester, reason, acceptPartial: true);
            if (victims is null)
            {
                Volatile.Write(ref _overLimit, 1);
            }

            return victims;
        }
    }

    /// <summary>Wakes every load waiting for memory.</summary>
    public void SignalChanged()
    {
        TaskCompletionSource signal;
        lock (_lock)
        {
            signal = _changed;
            _changed = NewSignal();
        }

        signal.TrySetResult();
    }

    /// <summary>What <see cref="IModelManager.GetMemoryUsage"/> returns.</summary>
    public MemoryUsage GetUsage()
    {
        lock (_lock)
        {
            var models = new Dictionary<string, ModelMemoryUsage>(StringComparer.Ordinal);
            foreach (var e in _entries)
            {
                if (e.Memory.Charged > 0)
                {
                    models[e.Name] = new ModelMemoryUsage(e.Memory.Estimated, e.Memory.Actual, e.Memory.Charged) { CacheBytes = e.Memory.Cache };
                }
            }

            return new MemoryUsage { TotalBytes = _usedBytes, LimitBytes = _limitBytes, Models = models };
        }
    }

    /// <summary>Every tracked entry's stats, consistent with one another.</summary>
    public Dictionary<string, ModelStats> GetStats(TimeProvider time)
    {
        var now = time.GetUtcNow();
        var stats = new Dictionary<string, ModelStats>(StringComparer.Ordinal);
        lock (_lock)
        {
            foreach (var e in _entries)
            {
                stats[e.Name] = e.GetStats(time, now);
            }
        }

        return stats;
    }

    /// <summary>An exception that says why <paramref name="entry"/> cannot have <paramref name="bytes"/>, and who holds the memory.</summary>
    public ModelMemoryException CreateMemoryException(ModelEntry entry, long bytes, string why)
    {
        long used;
        long limit;
        List<string> holders;
        lock (_lock)
        {
            used = _usedBytes;
            limit = _limitBytes;
            holders = _entries
                .Where(e => e.Memory.Charged > 0 && e != entry)
                .OrderByDescending(e => e.Memory.Charged)
                .Select(e => $"{e.Name} ({e.Memory.Charged / Mb:F1} MB, {e.State}, {e.Leases} lease(s), priority {e.Priority})")
                .ToList();
        }

        return new ModelMemoryException(entry.Name, bytes, limit, used, holders,
            $"Model '{entry.Name}' needs {bytes / Mb:F1} MB but the budget is {limit / Mb:F1} MB with {used / Mb:F1} MB in use; {why}. " +
            $"Held by: {(holders.Count == 0 ? "nothing" : string.Join("; ", holders))}.");
    }

    // Caller holds _lock. Victims: evictable now, least important first, then least recently used.
    private List<ModelEntry>? SelectVictims(long needed, int minPriorityNumber, ModelEntry? requester, UnloadReason reason, bool acceptPartial)
    {
        var candidates = new List<ModelEntry>();
        long available = 0;
        foreach (var e in _entries)
        {
            if (e.Memory.Charged > 0 && IsEvictable(e, minPriorityNumber, requester))
            {
                candidates.Add(e);
                available += e.Memory.Charged;
            }
        }

        if (candidates.Count == 0 || (available < needed && !acceptPartial))
        {
            return null;
        }

        candidates.Sort(LeastImportantFirst);

        var victims = new List<ModelEntry>();
        long freed = 0;
        foreach (var e in candidates)
        {
            if (freed >= needed)
            {
                break;
            }

            if (e.TryBeginEviction(reason))
            {
                victims.Add(e);
                freed += e.Memory.Charged;
            }
        }

        return victims.Count == 0 ? null : victims;
    }

    // Caller holds _lock. Loaded models' caches (leased ones too: a cache can go while calls run), least important then least
    // recently used first, up to needed; null when there are none, or (unless acceptPartial) when they would not cover it:
    // then evicting is needed anyway, and eviction frees a model's cache with it.
    private List<(ModelEntry Entry, long Bytes)>? SelectReclaims(long needed, ModelEntry? requester, bool acceptPartial)
    {
        var candidates = new List<ModelEntry>();
        long available = 0;
        foreach (var e in _entries)
        {
            if (e != requester && e.Memory.Cache > 0 && e.State == ModelState.Ready)
            {
                candidates.Add(e);
                available += e.Memory.Cache;
            }
        }

        if (candidates.Count == 0 || (available < needed && !acceptPartial))
        {
            return null;
        }

        candidates.Sort(LeastImportantFirst);
        var reclaims = new List<(ModelEntry, long)>();
        foreach (var e in candidates)
        {
            if (needed <= 0)
            {
                break;
            }

            var take = Math.Min(needed, e.Memory.Cache);
            reclaims.Add((e, take));
            needed -= take;
        }

        return reclaims;
    }

    // Caller holds _lock. False when even evicting every model this load may ever evict would not make room.
    private bool CouldEverFit(ModelEntry entry, long bytes)
    {
        var room = _limitBytes - _usedBytes;
        foreach (var e in _entries)
        {
            if (IsEvictable(e, entry.Priority, entry, eventually: true))
            {
                room += e.Memory.Charged;
            }
            else if (e != entry)
            {
                room += e.Memory.Cache; // a model the load may not evict still gives its cache back
            }
        }

        return bytes <= room;
    }

    // Caller holds _lock: memory that unloads in flight will free.
    private long PendingFreeBytes()
    {
        long pending = 0;
        foreach (var e in _entries)
        {
            if (e.State == ModelState.Unloading)
            {
                pending += e.Memory.Charged;
            }
        }

        return pending;
    }

    /// <summary>The order memory is taken back in: least important (highest priority number) first, then least recently used.</summary>
    /// <remarks>
    /// Recency is as fine as <see cref="CoarseClock.Period"/>: models released within one tick of it share a stamp, and of
    /// those the one with fewer accesses goes first, then the one first in name order, so that ties are deterministic.
    /// </remarks>
    private static int LeastImportantFirst(ModelEntry a, ModelEntry b)
    {
        var order = b.Priority.CompareTo(a.Priority);
        order = order != 0 ? order : a.LastAccessTimestamp.CompareTo(b.LastAccessTimestamp);
        order = order != 0 ? order : a.AccessCount.CompareTo(b.AccessCount);
        return order != 0 ? order : string.CompareOrdinal(a.Name, b.Name);
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What <see cref="TryReserve"/> decided: reserved (all null), caches to reclaim, victims to unload, or a signal to wait on.</summary>
    public readonly record struct ReserveStep(List<ModelEntry>? Victims, Task? Changed, List<(ModelEntry Entry, long Bytes)>? Reclaims = null)
    {
        public bool Reserved => Victims is null && Changed is null && Reclaims is null;
    }
}
