namespace ModelManager;

internal sealed partial class DefaultModelManager
{
    /// <summary>The warm path: one Interlocked increment and a state read. No lock, no allocation, no clock read.</summary>
    /// <remarks>
    /// The last-access time is stamped on release only: idle sweeps and victim selection skip leased models, so the time a
    /// lease began is never needed. The stamp comes from <see cref="CoarseClock"/>: a clock read would be most of the warm
    /// path's cost (see benchmarks).
    /// </remarks>
    internal bool TryAcquireFast(ModelEntry entry, out InstanceLease lease)
    {
        if (entry.TryLease(out lease, out var drained))
        {
            return true;
        }

        if (drained && _budget.WantsDrainSignal)
        {
            OnLeaseDrained();
        }

        return false;
    }

    internal void Release(ModelEntry entry)
    {
        if (entry.ReleaseLease(_clock.Now) && _budget.WantsDrainSignal)
        {
            OnLeaseDrained();
        }
    }

    /// <summary>Whether a model took a last-access stamp at or after <paramref name="timestamp"/>: the coarse clock is in use.</summary>
    private bool StampedSince(long timestamp)
    {
        foreach (var e in _budget.Entries)
        {
            if (e.LastAccessTimestamp >= timestamp)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A model's last lease ended while a load waits for memory or the budget is over: wake the scheduler.</summary>
    private void OnLeaseDrained()
    {
        _budget.SignalChanged();
        if (_budget.IsOverLimit)
        {
            // Inline: idle victims unload synchronously with most backends, so the budget holds again when Release returns.
            _ = EnforceLimitAsync(UnloadReason.MemoryLimit, minPriorityNumber: 1);
        }
    }

    /// <summary>Leases the first model of <paramref name="chain"/> that can load, trying fallbacks in order.</summary>
    internal ValueTask<InstanceLease> AcquireChainAsync(ModelEntry[] chain, CancellationToken cancellationToken)
    {
        if (TryAcquireFast(chain[0], out var lease))
        {
            return new ValueTask<InstanceLease>(lease);
        }

        return AcquireChainSlowAsync(chain, cancellationToken);
    }

    /// <summary>The part of <see cref="AcquireChainAsync"/> after its first model's fast lease failed (for callers that tried <see cref="TryAcquireFast"/> themselves).</summary>
    internal async ValueTask<InstanceLease> AcquireChainSlowAsync(ModelEntry[] chain, CancellationToken cancellationToken)
    {
        if (chain.Length == 1)
        {
            return await AcquireSlowAsync(chain[0], cancellationToken).ConfigureAwait(false);
        }

        List<Exception>? failures = null;
        for (var i = 0; i < chain.Length; i++)
        {
            var entry = chain[i];
            var last = i == chain.Length - 1;
            try
            {
                if (!TryAcquireFast(entry, out var lease))
                {
                    // Only the last candidate waits for leases to drain; earlier ones fail over at once when they cannot fit.
                    if (!last && entry.State == ModelState.Unloaded)
                    {
                        ThrowIfCoolingDown(entry);
                        await EnsureFitsNowAsync(entry, cancellationToken).ConfigureAwait(false);
                    }

                    lease = await AcquireSlowAsync(entry, cancellationToken).ConfigureAwait(false);
                }

                if (i > 0)
                {
                    var primary = chain[0];
                    primary.RecordFallback();
                    Log.FallbackUsed(_logger, primary.Name, entry.Name);
                    _metrics.FallbackUsed(primary.Name, entry.Name);
                    RaiseEvent(new ModelEventArgs(primary.Name, ModelEventKind.FallbackUsed, detail: entry.Name, exception: failures?[0]));
                }

                return lease;
            }
            catch (ModelLoadException e) when (!last)
            {
                (failures ??= []).Add(e);
            }
            catch (ModelLoadException e) when (failures is not null)
            {
                failures.Add(e);
                throw new ModelLoadException(chain[0].Name,
                    $"Model '{chain[0].Name}' and its fallbacks ({string.Join(", ", chain.Skip(1).Select(c => $"'{c.Name}'"))}) could not load: " +
                    string.Join(" | ", failures.Select(f => f.Message)),
                    new AggregateException(failures));
            }
        }

        throw new InvalidOperationException("unreachable");
    }
}
