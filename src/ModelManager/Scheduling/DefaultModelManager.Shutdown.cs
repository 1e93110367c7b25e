namespace ModelManager;

internal sealed partial class DefaultModelManager
{
    public Task ShutdownAsync(CancellationToken cancellationToken = default)
    {
        lock (_shutdownLock)
        {
            // On the thread pool, so that a synchronous Dispose() cannot deadlock on a caller's synchronization context.
            return _shutdownTask ??= Task.Run(() => ShutdownCoreAsync(cancellationToken), CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        using var grace = new CancellationTokenSource(DisposeGracePeriod, _time);
        await ShutdownAsync(grace.Token).ConfigureAwait(false);
    }

    /// <remarks>
    /// <see cref="IDisposable"/> promises that everything is unloaded when Dispose returns, so this one place blocks on the
    /// shutdown; the shutdown runs on the thread pool, so a caller's synchronization context cannot deadlock it.
    /// </remarks>
#pragma warning disable RS0030 // Banned API: the synchronous IDisposable contract (see remarks)
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();
#pragma warning restore RS0030

    private async Task ShutdownCoreAsync(CancellationToken cancellationToken)
    {
        Log.ShuttingDown(_logger);
        _disposed = true;
        _reloadSubscription?.Dispose();
        _sweepTimer.Dispose();
        _clock.Dispose();
        await _shutdownCts.CancelAsync().ConfigureAwait(false);

        // Loads in flight observe the cancelled token; wait for them to settle, but not for one stuck where cancellation
        // cannot reach (native code, a blocked read): after LoadAbandonTimeout (or the caller's token) it is abandoned, and
        // when it ends its load path sees the manager disposed and frees what it loaded.
        var loads = _budget.Entries.Where(e => e.LoadTask is not null).ToArray();
        try
        {
            await Task.WhenAll(loads.Select(e => e.LoadTask!)).WaitAsync(LoadAbandonTimeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            foreach (var entry in loads.Where(l => l.LoadTask is { IsCompleted: false }))
            {
                Log.LoadAbandoned(_logger, entry.Name, LoadAbandonTimeout.TotalSeconds);
            }
        }
        catch (Exception)
        {
            // Their failures were reported as LoadFailed events.
        }

        var unloads = new List<Task>();
        foreach (var e in _budget.Entries)
        {
            switch (e.RequestUnload(UnloadReason.Shutdown, force: false, out var wait))
            {
                case UnloadStep.Begun:
                    unloads.Add(CompleteUnloadAsync(e, force: false));
                    break;
                case UnloadStep.Unloading:
                    unloads.Add(wait!);
                    break;
            }
        }

        var all = Task.WhenAll(unloads);
        try
        {
            await all.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Grace period over: cancel the calls still running; they end at their next token.
            foreach (var e in _budget.Entries)
            {
                e.CancelCalls();
            }

            await all.ConfigureAwait(false);
        }

    }
}
