namespace ModelManager;

internal sealed partial class DefaultModelManager
{
    public Task<bool> UnloadModelAsync(string name, bool force = false, CancellationToken cancellationToken = default) =>
        UnloadAsync(GetEntry(name), force, force ? UnloadReason.Forced : UnloadReason.Requested, cancellationToken);

    /// <summary>Evicts a model a call found unusable, so that the retried call reloads it or falls back.</summary>
    internal async Task RetireUnavailableAsync(ModelEntry entry, ModelUnavailableException error)
    {
        Log.Unavailable(_logger, entry.Name, error);
        try
        {
            await UnloadAsync(entry, force: false, UnloadReason.Unavailable, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task<bool> UnloadAsync(ModelEntry entry, bool force, UnloadReason reason, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task? wait = null;
            var begun = false;
            lock (entry.Gate)
            {
                switch (entry.State)
                {
                    case ModelState.Unloaded:
                        return false;
                    case ModelState.Loading:
                        wait = entry.LoadTask;
                        break;
                    case ModelState.Unloading:
                        if (force)
                        {
                            entry.PendingReason = UnloadReason.Forced;
                            entry.CallCts?.Cancel();
                        }

                        wait = entry.UnloadDone!.Task;
                        break;
                    default:
                        begun = TryBeginUnload(entry, reason, evictOnlyIfIdle: false);
                        break;
                }
            }

            if (begun)
            {
                await CompleteUnloadAsync(entry, force).WaitAsync(cancellationToken).ConfigureAwait(false);
                return true;
            }

            if (wait is not null)
            {
                try
                {
                    await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    return false; // the load it waited for failed: nothing to unload
                }

                if (entry.State == ModelState.Unloaded && wait == entry.UnloadDone?.Task)
                {
                    return true;
                }
            }
        }
    }

    public void SetMemoryLimit(long megabytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(megabytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(megabytes, long.MaxValue / (1024 * 1024));
        ThrowIfDisposed();
        long old;
        lock (_budgetLock)
        {
            old = _limitBytes;
            _limitBytes = megabytes * 1024 * 1024;
        }

        Log.LimitChanged(_logger, old / Mb, megabytes);
        EnforceLimitAsync(UnloadReason.MemoryLimit, maxPriority: 1).GetAwaiter().GetResult();
        SignalMemoryChanged();
    }

    /// <summary>Evicts idle models, least important and least recently used first, until the budget fits its limit.</summary>
    /// <param name="reason">Recorded on each eviction.</param>
    /// <param name="maxPriority">Only models with this priority number or higher (less important) are evicted.</param>
    /// <param name="requester">A model that just loaded and is never its own victim.</param>
    private async Task EnforceLimitAsync(UnloadReason reason, int maxPriority, ModelEntry? requester = null)
    {
        while (true)
        {
            List<ModelEntry>? victims;
            lock (_budgetLock)
            {
                var needed = _usedBytes - _limitBytes - PendingFreeBytes();
                if (needed <= 0)
                {
                    Volatile.Write(ref _overLimit, 0);
                    return;
                }

                victims = SelectVictims(needed, maxPriority, requester, reason, acceptPartial: true);
                if (victims is null)
                {
                    // Leased models hold the rest; evict them as their leases drain.
                    Volatile.Write(ref _overLimit, 1);
                    return;
                }
            }

            await Task.WhenAll(victims.Select(v => CompleteUnloadAsync(v, force: false))).ConfigureAwait(false);
        }
    }

    /// <summary>Picks and begins unloading idle models to free <paramref name="needed"/> bytes; null if they cannot free enough.</summary>
    /// <remarks>Caller holds the budget lock. Victims: no lease, priority number ≥ <paramref name="minPriorityNumber"/>, least important then least recently used.</remarks>
    private List<ModelEntry>? SelectVictims(long needed, int minPriorityNumber, ModelEntry? requester, UnloadReason reason = UnloadReason.Capacity, bool acceptPartial = false)
    {
        var candidates = new List<ModelEntry>();
        long available = 0;
        foreach (var e in _entryList)
        {
            if (e != requester && e.State == ModelState.Ready && e.Leases == 0 && e.Priority >= minPriorityNumber && e.ChargedBytes > 0)
            {
                candidates.Add(e);
                available += e.ChargedBytes;
            }
        }

        if (candidates.Count == 0 || (available < needed && !acceptPartial))
        {
            return null;
        }

        candidates.Sort(static (a, b) => a.Priority != b.Priority
            ? b.Priority.CompareTo(a.Priority)
            : a.LastAccessTimestamp.CompareTo(b.LastAccessTimestamp));

        var victims = new List<ModelEntry>();
        long freed = 0;
        foreach (var e in candidates)
        {
            if (freed >= needed)
            {
                break;
            }

            lock (e.Gate)
            {
                if (TryBeginUnload(e, reason, evictOnlyIfIdle: true))
                {
                    victims.Add(e);
                    freed += e.ChargedBytes;
                }
            }
        }

        return victims.Count == 0 ? null : victims;
    }

    /// <summary>Moves a Ready model to Unloading. With <paramref name="evictOnlyIfIdle"/>, backs out if a lease appeared.</summary>
    /// <remarks>Caller holds the entry's gate.</remarks>
    private static bool TryBeginUnload(ModelEntry entry, UnloadReason reason, bool evictOnlyIfIdle)
    {
        if (entry.State != ModelState.Ready)
        {
            return false;
        }

        entry.Drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // A full fence: a warm-path acquirer either sees Unloading or its lease is seen here.
        Interlocked.Exchange(ref entry.StateValue, (int)ModelState.Unloading);
        if (evictOnlyIfIdle && Volatile.Read(ref entry.LeaseCount) != 0)
        {
            Volatile.Write(ref entry.StateValue, (int)ModelState.Ready);
            entry.Drained = null;
            return false;
        }

        entry.PendingReason = reason;
        entry.UnloadDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return true;
    }

    /// <summary>Finishes an unload begun by <see cref="TryBeginUnload"/>: drains leases (cancelling them if forced), disposes, frees the budget.</summary>
    private async Task CompleteUnloadAsync(ModelEntry entry, bool force)
    {
        using var activity = ModelManagerMetrics.ActivitySource.StartActivity("modelmanager.unload");
        activity?.SetTag(ModelManagerTags.Model, entry.Name).SetTag(ModelManagerTags.Reason, entry.PendingReason.ToString());
        if (force)
        {
            entry.CallCts?.Cancel();
        }

        if (Volatile.Read(ref entry.LeaseCount) != 0)
        {
            Log.WaitingForLeases(_logger, entry.Name, entry.Leases);
            await entry.Drained!.Task.ConfigureAwait(false);
        }

        var instance = entry.Instance!;
        try
        {
            await instance.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.DisposeFailed(_logger, entry.Name, e);
        }

        // Free the budget before the state says Unloaded: a reload may start the moment it does.
        long freed;
        lock (_budgetLock)
        {
            freed = entry.ChargedBytes;
            _usedBytes -= freed;
            entry.ChargedBytes = 0;
        }

        UnloadReason reason;
        TaskCompletionSource done;
        CancellationTokenSource? cts;
        lock (entry.Gate)
        {
            reason = entry.PendingReason;
            done = entry.UnloadDone!;
            cts = entry.CallCts;
            entry.Instance = null;
            entry.CallCts = null;
            entry.Drained = null;
            Volatile.Write(ref entry.StateValue, (int)ModelState.Unloaded);
        }

        cts?.Dispose();

        var evicted = reason is UnloadReason.Capacity or UnloadReason.Idle or UnloadReason.MemoryLimit or UnloadReason.Unavailable;
        if (evicted)
        {
            Interlocked.Increment(ref entry.EvictionCount);
        }

        _metrics.Unloaded(entry.Descriptor, reason, evicted);
        Log.Unloaded(_logger, entry.Name, reason, freed / Mb);
        SignalMemoryChanged();
        RaiseEvent(new ModelEventArgs(entry.Name, evicted ? ModelEventKind.Evicted : ModelEventKind.Unloaded, reason, freed));
        done.TrySetResult();
    }

    /// <summary>Unloads models unused for their <c>max_idle_time</c>; runs on the sweep timer.</summary>
    internal void SweepIdle()
    {
        if (_disposed)
        {
            return;
        }

        foreach (var e in _entryList)
        {
            var idle = e.Descriptor.MaxIdleTime;
            if (idle <= TimeSpan.Zero || e.State != ModelState.Ready || e.Leases != 0
                || _time.GetElapsedTime(Volatile.Read(ref e.LastAccessTimestamp)) < idle)
            {
                continue;
            }

            bool begun;
            lock (e.Gate)
            {
                begun = TryBeginUnload(e, UnloadReason.Idle, evictOnlyIfIdle: true);
            }

            if (begun)
            {
                Log.Evicting(_logger, e.Name, UnloadReason.Idle, e.ChargedBytes / Mb);
                _ = CompleteUnloadAsync(e, force: false);
            }
        }
    }
}
