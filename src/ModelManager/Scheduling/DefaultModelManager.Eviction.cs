namespace ModelManager;

/// <summary>Unloads: on request, for the memory limit, after idle time; and the one way every unload finishes.</summary>
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

    /// <summary>Unloads once leases drain, waiting first for a load or an unload in flight; true if this call saw the model go.</summary>
    private async Task<bool> UnloadAsync(ModelEntry entry, bool force, UnloadReason reason, CancellationToken cancellationToken)
    {
        while (true)
        {
            switch (entry.RequestUnload(reason, force, out var wait))
            {
                case UnloadStep.NotLoaded:
                    return false;
                case UnloadStep.Begun:
                    await CompleteUnloadAsync(entry, force).WaitAsync(cancellationToken).ConfigureAwait(false);
                    return true;
            }

            try
            {
                await wait!.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return false; // the load it waited for failed: nothing to unload
            }

            if (entry.WasUnloadedBy(wait))
            {
                return true;
            }
        }
    }

    /// <remarks>Does not block: the evictions begin at once (and, with backends that dispose synchronously, end before it returns).</remarks>
    public void SetMemoryLimit(long megabytes) => _ = ApplyMemoryLimit(megabytes);

    public Task SetMemoryLimitAsync(long megabytes, CancellationToken cancellationToken = default) =>
        ApplyMemoryLimit(megabytes).WaitAsync(cancellationToken);

    /// <summary>Validates and sets the limit at once; the returned task ends when the idle models over it are evicted.</summary>
    private Task ApplyMemoryLimit(long megabytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(megabytes);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(megabytes, long.MaxValue / (1024 * 1024));
        ThrowIfDisposed();
        var old = _budget.SetLimit(megabytes * 1024 * 1024);
        Log.LimitChanged(_logger, old / MemoryBudget.Mb, megabytes);
        return EnforceLimitAndSignalAsync();
    }

    private async Task EnforceLimitAndSignalAsync()
    {
        try
        {
            await EnforceLimitAsync(UnloadReason.MemoryLimit, minPriorityNumber: 1).ConfigureAwait(false);
        }
        finally
        {
            // A raised limit may let waiting loads in.
            _budget.SignalChanged();
        }
    }

    /// <summary>Evicts idle models, least important and least recently used first, until the budget fits its limit.</summary>
    /// <param name="reason">Recorded on each eviction.</param>
    /// <param name="minPriorityNumber">Only models with this priority number or higher (less important) are evicted.</param>
    /// <param name="requester">A model that just loaded and is never its own victim.</param>
    /// <remarks>What leased models hold is evicted as their leases drain (<see cref="OnLeaseDrained"/>).</remarks>
    private async Task EnforceLimitAsync(UnloadReason reason, int minPriorityNumber, ModelEntry? requester = null)
    {
        // Caches first: what they give back may spare a model.
        while (_budget.SelectOverLimitReclaims(requester) is { } reclaims && ReclaimCaches(reclaims, "the memory limit") > 0)
        {
        }

        while (_budget.SelectOverLimitVictims(reason, minPriorityNumber, requester) is { } victims)
        {
            await Task.WhenAll(victims.Select(v => CompleteUnloadAsync(v, force: false))).ConfigureAwait(false);
        }
    }

    /// <summary>Unloads models unused for their <c>max_idle_time</c>; runs on the sweep timer, and sets it for the next model due.</summary>
    /// <remarks>
    /// A model goes once <see cref="CoarseClock.Period"/> more than its idle time has passed since its last-access stamp,
    /// since the stamp may be up to that much early: it never unloads before <c>max_idle_time</c>, and, with the timer set
    /// for the earliest model due, at most a period after. A leased model's stamp moves on release, so it is looked at again
    /// within <see cref="SweepInterval"/> (a quarter of the shortest idle time, at least 1 s): before it is due, unless its
    /// <c>max_idle_time</c> is under a second.
    /// </remarks>
    internal void SweepIdle()
    {
        if (_disposed)
        {
            return;
        }

        var next = SweepInterval;
        foreach (var e in _budget.Entries)
        {
            var idle = e.Descriptor.MaxIdleTime;
            if (idle <= TimeSpan.Zero || e.State != ModelState.Ready || e.Leases != 0)
            {
                continue;
            }

            var left = idle + CoarseClock.Period - _time.GetElapsedTime(e.LastAccessTimestamp);
            if (left > TimeSpan.Zero)
            {
                next = left < next ? left : next;
                continue;
            }

            if (e.TryBeginEviction(UnloadReason.Idle))
            {
                Log.Evicting(_logger, e.Name, UnloadReason.Idle, e.Memory.Charged / MemoryBudget.Mb);
                _ = CompleteUnloadAsync(e, force: false);
            }
        }

        if (next > TimeSpan.Zero)
        {
            _sweepTimer.Change(next, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Finishes an unload the entry began: drains leases (cancelling them if forced), disposes, frees the budget, reports.</summary>
    private async Task CompleteUnloadAsync(ModelEntry entry, bool force)
    {
        using var activity = ModelManagerMetrics.ActivitySource.StartActivity("modelmanager.unload");
        activity?.SetTag(ModelManagerTags.Model, entry.Name).SetTag(ModelManagerTags.Reason, entry.UnloadReason.ToString());
        if (entry.Leases != 0)
        {
            Log.WaitingForLeases(_logger, entry.Name, entry.Leases);
        }

        try
        {
            await entry.DrainAndDisposeAsync(force).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Log.DisposeFailed(_logger, entry.Name, e);
        }

        // Free the budget before the state says Unloaded: a reload may start the moment it does.
        var freed = _budget.Release(entry);
        var reason = entry.MarkUnloaded(out var done);
        var evicted = reason.IsEviction();
        _metrics.Unloaded(entry.Descriptor, reason, evicted);
        Log.Unloaded(_logger, entry.Name, reason, freed / MemoryBudget.Mb);
        _budget.SignalChanged();
        RaiseEvent(new ModelEventArgs(entry.Name, evicted ? ModelEventKind.Evicted : ModelEventKind.Unloaded, reason, freed));
        done.TrySetResult();
    }
}
