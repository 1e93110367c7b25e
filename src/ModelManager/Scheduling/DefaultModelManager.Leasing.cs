namespace ModelManager;

internal sealed partial class DefaultModelManager
{
    // Non-zero while a load waits for memory or the budget is over its limit: lease releases then wake the scheduler.
    private int _memoryWaiters;
    private int _overLimit;

    /// <summary>The warm path: one Interlocked increment and a state read. No lock, no allocation, no clock read.</summary>
    /// <remarks>
    /// The last-access time is stamped on release only: idle sweeps and victim selection skip leased models, so the time a
    /// lease began is never needed, and a clock read is most of the warm path's cost (see benchmarks).
    /// </remarks>
    internal bool TryAcquireFast(ModelEntry entry, out Leased lease)
    {
        Interlocked.Increment(ref entry.LeaseCount);
        if (Volatile.Read(ref entry.StateValue) == (int)ModelState.Ready)
        {
            lease = new Leased(entry, entry.Instance!, entry.CallToken);
            Interlocked.Increment(ref entry.AccessCount);
            return true;
        }

        Release(entry);
        lease = default;
        return false;
    }

    internal void Release(ModelEntry entry)
    {
        entry.LastAccessTimestamp = _time.GetTimestamp();
        if (Interlocked.Decrement(ref entry.LeaseCount) == 0)
        {
            if (Volatile.Read(ref entry.StateValue) == (int)ModelState.Unloading)
            {
                entry.Drained?.TrySetResult();
            }

            if ((Volatile.Read(ref _memoryWaiters) | Volatile.Read(ref _overLimit)) != 0)
            {
                OnLeaseDrained();
            }
        }
    }

    /// <summary>Leases the first model of <paramref name="chain"/> that can load, trying fallbacks in order.</summary>
    internal ValueTask<Leased> AcquireChainAsync(ModelEntry[] chain, CancellationToken cancellationToken)
    {
        if (TryAcquireFast(chain[0], out var lease))
        {
            return new ValueTask<Leased>(lease);
        }

        return AcquireChainSlowAsync(chain, cancellationToken);
    }

    private async ValueTask<Leased> AcquireChainSlowAsync(ModelEntry[] chain, CancellationToken cancellationToken)
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
                        await EnsureFitsNowAsync(entry, cancellationToken).ConfigureAwait(false);
                    }

                    lease = await AcquireSlowAsync(entry, cancellationToken).ConfigureAwait(false);
                }

                if (i > 0)
                {
                    var primary = chain[0];
                    Interlocked.Increment(ref primary.FallbackCount);
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

    /// <summary>The cold path: waits for (or starts) the model's single-flight load, then leases it.</summary>
    internal async ValueTask<Leased> AcquireSlowAsync(ModelEntry entry, CancellationToken cancellationToken)
    {
        while (true)
        {
            ThrowIfDisposed();
            if (entry.Retired)
            {
                throw new ModelNotFoundException(entry.Name, $"Model '{entry.Name}' was removed from the configuration.");
            }

            Task wait;
            TaskCompletionSource? startLoad = null;
            lock (entry.Gate)
            {
                switch (entry.State)
                {
                    case ModelState.Ready:
                        Interlocked.Increment(ref entry.LeaseCount);
                        entry.LastAccessTimestamp = _time.GetTimestamp();
                        Interlocked.Increment(ref entry.AccessCount);
                        return new Leased(entry, entry.Instance!, entry.CallToken);
                    case ModelState.Loading:
                        wait = entry.LoadTask!;
                        break;
                    case ModelState.Unloading:
                        wait = entry.UnloadDone!.Task;
                        break;
                    default:
                        startLoad = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                        entry.LoadTask = wait = startLoad.Task;
                        Volatile.Write(ref entry.StateValue, (int)ModelState.Loading);
                        break;
                }
            }

            if (startLoad is not null)
            {
                // On the thread pool: never on the caller's stack or synchronization context.
                _ = Task.Run(() => RunLoadAsync(entry, startLoad), CancellationToken.None);
            }

            await wait.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }
}
