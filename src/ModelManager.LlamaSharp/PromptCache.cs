using LLama.Native;

namespace ModelManager;

/// <summary>
/// The KV state of finished sequences, kept in memory so that a prompt starting with the same tokens evaluates only the rest;
/// charged to the memory budget as it grows, and the first thing given back under pressure.
/// </summary>
/// <remarks>
/// <para>
/// A finished request's sequence is saved (llama.cpp's per-sequence state: the KV cells of its tokens, no more) and its KV
/// stream freed. A later request whose tokens share a prefix with a saved sequence loads that state into its own stream,
/// cuts it back to the common prefix and evaluates the rest; the saved state stays, so two agents with the same system
/// prompt both reuse it, and the first conversation stays cached for its next turn. A state loads into free cells in
/// position order as a fresh prompt would, so greedy output is the same with the cache as without it whenever the KV
/// cache is laid out alike (requests one at a time); concurrent requests place their cells by what else runs, with or
/// without the cache. (Reusing a live sequence instead, by forking it, leaves gaps of the parent's cells in the child's
/// attention window: 2 of 200 greedy turns differed on stories260K that way.)
/// </para>
/// <para>
/// Bounded by <c>prompt_cache.sequences</c> and <c>prompt_cache.memory_mb</c>, least recently used out first, and by the
/// budget: a sequence the budget has no room for is not kept (<see cref="IMemoryGrant.TryGrow"/>), and the manager takes
/// memory back through <see cref="Reclaim"/> before it evicts any model. Thread-safe: the generator's loop adds and
/// matches, the manager reclaims from any thread. Lock order: the cache's lock, then the budget's (through the grant);
/// nothing here is read under the budget's lock but lock-free counters (<see cref="Snapshot"/>, <see cref="Bytes"/>).
/// </para>
/// </remarks>
internal sealed class PromptCache(int capacity, long maxBytes) : IReclaimableMemory
{
    /// <summary>The fewest prompt tokens worth loading a saved state for: a shorter common prefix (a BOS and a role name, say) costs next to nothing to evaluate, and is no hit.</summary>
    public const int MinReuse = 4;

    private readonly object _lock = new();
    private readonly List<Entry> _entries = [];
    private IMemoryGrant? _grant;
    private long _clock;
    private long _bytes;
    private long _tokens;
    private long _hits;
    private long _misses;
    private long _reusedTokens;
    private int _restored;
    private int _count;

    /// <summary>The most sequences kept.</summary>
    public int Capacity { get; } = capacity;

    /// <summary>The most bytes kept.</summary>
    public long MaxBytes { get; } = maxBytes;

    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>The saved sequences, most recently used first.</summary>
    public IReadOnlyList<Entry> Entries
    {
        get
        {
            lock (_lock)
            {
                return _entries.OrderByDescending(e => e.LastUsed).ToArray();
            }
        }
    }

    /// <summary>Finds the saved sequence sharing the longest token prefix with <paramref name="prompt"/>; ties go to the one of <paramref name="key"/>, then the most recent.</summary>
    /// <returns>The entry and the length of the common prefix, or (null, 0).</returns>
    public (Entry? Entry, int Common) Match(ReadOnlySpan<LLamaToken> prompt, string? key)
    {
        lock (_lock)
        {
            Entry? best = null;
            var bestCommon = 0;
            foreach (var e in _entries)
            {
                var common = prompt.CommonPrefixLength(e.Tokens);
                if (common > 0 && (best is null || common > bestCommon || common == bestCommon && Better(e, best, key)))
                {
                    best = e;
                    bestCommon = common;
                }
            }

            return (best, bestCommon);
        }

        static bool Better(Entry e, Entry than, string? key) =>
            IsKey(e, key) != IsKey(than, key) ? IsKey(e, key) : e.LastUsed > than.LastUsed;

        static bool IsKey(Entry e, string? key) => key is not null && e.Key == key;
    }

    /// <summary>Counts a request's use of the cache: <paramref name="reused"/> prompt tokens came from <paramref name="entry"/>, or none when it is null.</summary>
    public void Record(Entry? entry, int reused)
    {
        if (entry is null || reused == 0)
        {
            Interlocked.Increment(ref _misses);
            return;
        }

        lock (_lock)
        {
            entry.LastUsed = ++_clock;
        }

        Interlocked.Increment(ref _hits);
        Interlocked.Add(ref _reusedTokens, reused);
    }

    /// <summary>Keeps a finished sequence's <paramref name="state"/>, which holds exactly <paramref name="tokens"/>; false when it does not fit.</summary>
    /// <remarks>
    /// Drops every entry whose tokens are a prefix of the new ones (the new entry matches any prompt at least as far) and
    /// the entry of the same conversation <paramref name="key"/> (the conversation moved on), then the least recently used
    /// while over <see cref="Capacity"/>, <see cref="MaxBytes"/> or what the budget grants.
    /// </remarks>
    public bool Add(LLamaToken[] tokens, byte[] state, string? key, bool restored = false)
    {
        var size = SizeOf(tokens, state);
        if (size > MaxBytes)
        {
            return false;
        }

        lock (_lock)
        {
            for (var i = _entries.Count - 1; i >= 0; i--)
            {
                var e = _entries[i];
                if (key is not null && e.Key == key || tokens.AsSpan().StartsWith(e.Tokens))
                {
                    RemoveAt(i);
                }
            }

            while (_entries.Count > 0 && (_entries.Count >= Capacity || _bytes + size > MaxBytes))
            {
                RemoveLeastRecent();
            }

            // Before the budget is attached (a spill restored during the load) the bytes are charged at Attach.
            while (_grant is not null && !_grant.TryGrow(size))
            {
                if (_entries.Count == 0)
                {
                    return false;
                }

                RemoveLeastRecent();
            }

            _entries.Add(new Entry(tokens, state, key) { LastUsed = ++_clock });
            Volatile.Write(ref _count, _entries.Count);
            Interlocked.Add(ref _bytes, size);
            Interlocked.Add(ref _tokens, tokens.Length);
            if (restored)
            {
                Interlocked.Increment(ref _restored);
            }

            return true;
        }
    }

    /// <summary>Forgets <paramref name="entry"/> (its state would not load).</summary>
    public void Remove(Entry entry)
    {
        lock (_lock)
        {
            var i = _entries.IndexOf(entry);
            if (i >= 0)
            {
                RemoveAt(i);
            }
        }
    }

    public void Attach(IMemoryGrant grant)
    {
        lock (_lock)
        {
            _grant = grant;
            while (_bytes > 0 && !grant.TryGrow(_bytes))
            {
                RemoveLeastRecent(charged: false);
            }
        }
    }

    public long Reclaim(long bytes)
    {
        lock (_lock)
        {
            var before = _bytes;
            while (_entries.Count > 0 && before - _bytes < bytes)
            {
                RemoveLeastRecent();
            }

            return before - _bytes;
        }
    }

    /// <summary>Drops every sequence and gives their bytes back.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            for (var i = _entries.Count - 1; i >= 0; i--)
            {
                RemoveAt(i);
            }
        }
    }

    /// <summary>The counters, read without the cache's lock: the budget reads them under its own, which the cache takes inside its lock (<see cref="IMemoryGrant.TryGrow"/>).</summary>
    public PromptCacheStats Snapshot() => new(Interlocked.Read(ref _hits), Interlocked.Read(ref _misses), Interlocked.Read(ref _reusedTokens),
        Volatile.Read(ref _count), Interlocked.Read(ref _tokens), Interlocked.Read(ref _bytes), Volatile.Read(ref _restored));

    private static long SizeOf(LLamaToken[] tokens, byte[] state) => state.Length + (4L * tokens.Length);

    // Caller holds _lock.
    private void RemoveLeastRecent(bool charged = true)
    {
        var oldest = 0;
        for (var i = 1; i < _entries.Count; i++)
        {
            if (_entries[i].LastUsed < _entries[oldest].LastUsed)
            {
                oldest = i;
            }
        }

        RemoveAt(oldest, charged);
    }

    // Caller holds _lock.
    private void RemoveAt(int index, bool charged = true)
    {
        var e = _entries[index];
        _entries.RemoveAt(index);
        Volatile.Write(ref _count, _entries.Count);
        var size = SizeOf(e.Tokens, e.State);
        Interlocked.Add(ref _bytes, -size);
        Interlocked.Add(ref _tokens, -e.Tokens.Length);
        if (charged)
        {
            _grant?.Shrink(size);
        }
    }

    /// <summary>One saved sequence: the tokens its KV holds, llama.cpp's state of it, and the conversation id it served.</summary>
    public sealed class Entry(LLamaToken[] tokens, byte[] state, string? key)
    {
        public LLamaToken[] Tokens { get; } = tokens;

        public byte[] State { get; } = state;

        public string? Key { get; } = key;

        public long LastUsed { get; set; }
    }
}
