namespace ModelManager;

internal sealed partial class DefaultModelManager
{
    private static readonly TimeSpan DisposeGracePeriod = TimeSpan.FromSeconds(10);
    private readonly object _shutdownLock = new();
    private Task? _shutdownTask;

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

    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task ShutdownCoreAsync(CancellationToken cancellationToken)
    {
        Log.ShuttingDown(_logger);
        _disposed = true;
        _reloadSubscription?.Dispose();
        _sweepTimer.Dispose();
        await _shutdownCts.CancelAsync().ConfigureAwait(false);

        // Loads in flight observe the cancelled token; wait for them to settle.
        var loads = _entryList.Select(e => e.LoadTask).OfType<Task>().ToArray();
        try
        {
            await Task.WhenAll(loads).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Their failures were reported as LoadFailed events.
        }

        var unloads = new List<Task>();
        foreach (var e in _entryList)
        {
            lock (e.Gate)
            {
                if (TryBeginUnload(e, UnloadReason.Shutdown, evictOnlyIfIdle: false))
                {
                    unloads.Add(CompleteUnloadAsync(e, force: false));
                }
                else if (e.State == ModelState.Unloading)
                {
                    unloads.Add(e.UnloadDone!.Task);
                }
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
            foreach (var e in _entryList)
            {
                try
                {
                    e.CallCts?.Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
            }

            await all.ConfigureAwait(false);
        }

    }
}
