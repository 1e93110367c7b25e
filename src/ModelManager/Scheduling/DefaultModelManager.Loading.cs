namespace ModelManager;

/// <summary>The cold path, top-down: a lease that finds the model not Ready starts (or joins) its single-flight load.</summary>
internal sealed partial class DefaultModelManager
{
    /// <summary>Waits for (or starts) the model's single-flight load, then leases it.</summary>
    internal async ValueTask<InstanceLease> AcquireSlowAsync(ModelEntry entry, CancellationToken cancellationToken)
    {
        while (true)
        {
            ThrowIfDisposed();
            if (entry.Retired)
            {
                throw new ModelNotFoundException(entry.Name, $"Model '{entry.Name}' was removed from the configuration.");
            }

            ThrowIfCoolingDown(entry);

            if (entry.TryLeaseOrWait(_time.GetTimestamp(), out var lease, out var wait, out var startLoad))
            {
                return lease;
            }

            if (startLoad is not null)
            {
                StartLoad(entry, startLoad);
            }

            await WaitForLoadAsync(wait, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for a load another caller started; a shutdown ends the wait at once (a stuck load is abandoned, not awaited).</summary>
    private async Task WaitForLoadAsync(Task load, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _shutdownCts.Token);
        try
        {
            await load.WaitAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && _shutdownCts.IsCancellationRequested)
        {
            ThrowIfDisposed();
            throw;
        }
    }

    /// <summary>Starts the load on the thread pool, never on a caller's synchronization context or scheduler; inline when the caller already is a plain pool thread.</summary>
    /// <remarks>
    /// Inline, the load runs on the caller's stack until its first await, the estimate's file read, which runs on the thread
    /// pool (see <see cref="EstimateAsync"/>): a hop fewer, and no file read on the caller's thread. A caller on its own
    /// synchronization context or scheduler (a UI thread, say) still gets the hop.
    /// </remarks>
    private void StartLoad(ModelEntry entry, TaskCompletionSource done)
    {
        if (Thread.CurrentThread.IsThreadPoolThread && SynchronizationContext.Current is null && TaskScheduler.Current == TaskScheduler.Default)
        {
            _ = RunLoadAsync(entry, done);
        }
        else
        {
            _ = Task.Run(() => RunLoadAsync(entry, done), CancellationToken.None);
        }
    }

    /// <summary>Runs one model's load: estimate, reserve (evicting as needed), load, charge what it really holds, publish.</summary>
    private async Task RunLoadAsync(ModelEntry entry, TaskCompletionSource done)
    {
        var started = _time.GetTimestamp();
        var reserved = false;
        using var activity = ModelManagerMetrics.ActivitySource.StartActivity("modelmanager.load");
        activity?.SetTag(ModelManagerTags.Model, entry.Name).SetTag(ModelManagerTags.ModelType, entry.Descriptor.Type);
        try
        {
            ThrowIfDisposed();
            var bytes = await EstimateAsync(entry, _shutdownCts.Token).ConfigureAwait(false);
            var reading = _time.GetElapsedTime(started); // load_timeout runs from the first byte read; the wait for memory has its own
            Log.Loading(_logger, entry.Name, entry.Descriptor.Type, bytes / MemoryBudget.Mb);
            await ReserveAsync(entry, bytes).ConfigureAwait(false);
            reserved = true;

            var instance = await LoadWithTimeoutAsync(entry, reading).ConfigureAwait(false);
            var actual = Math.Max(0, instance.MemoryBytes);
            var over = _budget.ChargeLoaded(entry, bytes, actual);
            if (instance.GetService(typeof(IReclaimableMemory)) is IReclaimableMemory reclaimable)
            {
                // Before any call can fill it: from here on the cache is charged as it grows.
                reclaimable.Attach(_budget.CreateGrant(entry));
            }

            var duration = _time.GetElapsedTime(started);
            entry.Publish(instance, _time.GetTimestamp(), duration);

            _metrics.Loaded(entry.Descriptor, duration);
            activity?.SetTag("modelmanager.bytes", Math.Max(bytes, actual));
            var usage = GetMemoryUsage();
            Log.Loaded(_logger, entry.Name, duration.TotalMilliseconds, bytes / MemoryBudget.Mb, actual / MemoryBudget.Mb, usage.TotalMb, usage.LimitMb);
            RaiseEvent(new ModelEventArgs(entry.Name, ModelEventKind.Loaded, bytes: Math.Max(bytes, actual)));

            if (over > 0)
            {
                // The backend used more than it estimated: the budget must still hold, so evict idle models, least
                // important first (any priority: the alternative is running over budget). Later loads of this model
                // reserve what it really used.
                Log.OverEstimate(_logger, entry.Name, actual / MemoryBudget.Mb, bytes / MemoryBudget.Mb, over / MemoryBudget.Mb);
                await EnforceLimitAsync(UnloadReason.MemoryLimit, minPriorityNumber: 1, entry).ConfigureAwait(false);
            }

            if (_disposed)
            {
                // Shutdown began while we loaded: do not leave a model behind.
                await UnloadModelAsync(entry.Name, force: true).ConfigureAwait(false);
            }

            done.TrySetResult();
        }
        catch (Exception e)
        {
            Exception error = _disposed && e is OperationCanceledException or ObjectDisposedException
                ? new ObjectDisposedException(nameof(IModelManager), "The model manager was shut down while the model loaded.")
                : Wrap(entry, e);
            if (reserved)
            {
                _budget.Release(entry);
                _budget.SignalChanged();
            }

            entry.FailLoad();
            StartCoolDown(entry, error);
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, error.Message);
            ReportLoadFailure(entry, error);
            done.TrySetException(error);
        }
    }

    /// <summary>The backend's estimate, recorded; returns what the load reserves (more, if the model once used more).</summary>
    /// <remarks>
    /// Bounded by <c>load_timeout</c> and shutdown like the load itself: the estimate reads the model's files, and a read that
    /// blocks (a slow or hung disk) runs on the thread pool, where it is abandoned rather than waited for.
    /// </remarks>
    private async ValueTask<long> EstimateAsync(ModelEntry entry, CancellationToken cancellationToken)
    {
        try
        {
            var estimate = await WithinLoadTimeoutAsync(entry, TimeSpan.Zero, token => Task.Run(() => entry.Backend.EstimateBytesAsync(entry.Descriptor, token).AsTask(), token),
                abandon: static late => late.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default), cancellationToken).ConfigureAwait(false);
            if (estimate < 0)
            {
                throw new ModelLoadException(entry.Name, $"Backend '{entry.Descriptor.Type}' estimated a negative size ({estimate} bytes) for model '{entry.Name}'.");
            }

            return _budget.RecordEstimate(entry, estimate);
        }
        catch (Exception e) when (e is not ModelLoadException and not OperationCanceledException and not ObjectDisposedException)
        {
            throw Wrap(entry, e);
        }
    }

    /// <summary>Asks each model's <see cref="IReclaimableMemory"/> for its share of <paramref name="reclaims"/>; returns the bytes freed.</summary>
    private long ReclaimCaches(List<(ModelEntry Entry, long Bytes)> reclaims, string requester)
    {
        long freed = 0;
        foreach (var (e, bytes) in reclaims)
        {
            try
            {
                var got = e.Reclaimable?.Reclaim(bytes) ?? 0;
                freed += got;
                Log.CacheReclaimed(_logger, e.Name, got / MemoryBudget.Mb, requester);
            }
            catch (Exception error)
            {
                Log.ReclaimFailed(_logger, e.Name, error);
            }
        }

        return freed;
    }

    /// <summary>Reserves <paramref name="bytes"/>, evicting idle, no more important models, or waiting (up to <c>load_wait_timeout</c>) for leases to drain.</summary>
    private async Task ReserveAsync(ModelEntry entry, long bytes)
    {
        var waitStarted = _time.GetTimestamp();
        var waited = false;
        var reclaim = true;
        try
        {
            while (true)
            {
                var step = _budget.TryReserve(entry, bytes, reclaim);
                if (step.Reserved)
                {
                    return;
                }

                if (step.Reclaims is { } reclaims)
                {
                    // Caches before models; a round that frees nothing (a cache that will not shrink) moves on to evicting.
                    reclaim = ReclaimCaches(reclaims, entry.Name) > 0;
                    continue;
                }

                if (step.Victims is { } victims)
                {
                    foreach (var v in victims)
                    {
                        Log.PressureEviction(_logger, v.Name, v.Priority, entry.Name, bytes / MemoryBudget.Mb);
                    }

                    await Task.WhenAll(victims.Select(v => CompleteUnloadAsync(v, force: false))).ConfigureAwait(false);
                    continue;
                }

                try
                {
                    var timeout = _config.LoadWaitTimeout;
                    if (!waited)
                    {
                        waited = true;
                        Log.WaitingForMemory(_logger, entry.Name, bytes / MemoryBudget.Mb, timeout.TotalSeconds);
                    }

                    var remaining = timeout - _time.GetElapsedTime(waitStarted);
                    if (remaining <= TimeSpan.Zero)
                    {
                        throw new TimeoutException();
                    }

                    await step.Changed!.WaitAsync(remaining, _time, _shutdownCts.Token).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    throw _budget.CreateMemoryException(entry, bytes, $"no room could be made within load_wait_timeout ({_config.LoadWaitTimeout.TotalSeconds:F0} s)");
                }
                catch (OperationCanceledException) when (_disposed)
                {
                    throw new ObjectDisposedException(nameof(IModelManager), "The model manager has been shut down.");
                }
                finally
                {
                    _budget.EndWait();
                }
            }
        }
        finally
        {
            if (waited)
            {
                _metrics.WaitedForMemory(entry.Name, _time.GetElapsedTime(waitStarted));
            }
        }
    }

    /// <summary>Runs the backend's load, cancelling it when <c>load_timeout</c> runs out (<paramref name="spent"/> of it went to reading the model's files); a load that ignores cancellation is abandoned and its instance disposed when it finally arrives.</summary>
    private Task<IModelInstance> LoadWithTimeoutAsync(ModelEntry entry, TimeSpan spent) =>
        WithinLoadTimeoutAsync(entry, spent, token => entry.Backend.LoadAsync(entry.Descriptor, new Progress(this, entry.Name), token), DisposeWhenLoadedAsync, CancellationToken.None);

    /// <summary>
    /// Runs one step of a load within what is left of <c>load_timeout</c> after <paramref name="spent"/>, and within shutdown
    /// and <paramref name="cancellationToken"/>: on any of them the step's token is cancelled and the step abandoned, never
    /// waited for (<paramref name="abandon"/> cleans up after it if it completes after all).
    /// </summary>
    private async Task<T> WithinLoadTimeoutAsync<T>(ModelEntry entry, TimeSpan spent, Func<CancellationToken, Task<T>> step, Func<Task<T>, Task> abandon, CancellationToken cancellationToken)
    {
        var timeout = _config.LoadTimeout;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_shutdownCts.Token, cancellationToken);
        Task<T> running;
        try
        {
            running = step(cts.Token);
        }
        catch (Exception e) when (e is not ModelLoadException)
        {
            throw Wrap(entry, e);
        }

        try
        {
            // Shutdown stops waiting too: a step stuck in native code or a blocking read is abandoned, not waited for.
            return timeout == Timeout.InfiniteTimeSpan
                ? await running.WaitAsync(cts.Token).ConfigureAwait(false)
                : await running.WaitAsync(timeout - spent > TimeSpan.Zero ? timeout - spent : TimeSpan.Zero, _time, cts.Token).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await cts.CancelAsync().ConfigureAwait(false);
            _ = abandon(running);
            throw new ModelLoadException(entry.Name, $"Model '{entry.Name}' did not load within load_timeout ({timeout.TotalSeconds:0.###} s, reading its files included); the load was cancelled.");
        }
        catch (OperationCanceledException) when (_shutdownCts.IsCancellationRequested)
        {
            _ = abandon(running);
            throw new ObjectDisposedException(nameof(IModelManager), "The model manager was shut down while the model loaded.");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !running.IsCompleted)
        {
            _ = abandon(running);
            throw;
        }
        catch (Exception e) when (e is not ModelLoadException and not OperationCanceledException)
        {
            throw Wrap(entry, e);
        }
    }

    /// <summary>An abandoned load that completes after all has its instance disposed.</summary>
    private static async Task DisposeWhenLoadedAsync(Task<IModelInstance> load)
    {
        IModelInstance instance;
        try
        {
            instance = await load.ConfigureAwait(false);
        }
        catch (Exception)
        {
            return; // it failed late: nothing to dispose
        }

        await instance.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>For fallback chains: fails fast when a model cannot fit without waiting for leases.</summary>
    /// <remarks>A model whose estimate fails (a bad file) is reported as a failed load, as it would be if the load ran.</remarks>
    private async ValueTask EnsureFitsNowAsync(ModelEntry entry, CancellationToken cancellationToken)
    {
        long bytes;
        try
        {
            bytes = await EstimateAsync(entry, cancellationToken).ConfigureAwait(false);
        }
        catch (ModelLoadException e)
        {
            entry.RecordFailure();
            StartCoolDown(entry, e);
            ReportLoadFailure(entry, e);
            throw;
        }

        _budget.EnsureFitsNow(entry, bytes);
    }

    /// <summary>Loads every <c>preload: true</c> model, most important first; failures are logged and reported as LoadFailed, not thrown.</summary>
    internal Task PreloadAsync(CancellationToken cancellationToken) => PreloadAsync(_config.Models.Where(e => e.Descriptor.Preload), cancellationToken);

    private async Task PreloadAsync(IEnumerable<ModelEntry> entries, CancellationToken cancellationToken)
    {
        foreach (var entry in entries.OrderBy(e => e.Priority))
        {
            try
            {
                var lease = await AcquireSlowAsync(entry, cancellationToken).ConfigureAwait(false);
                Release(lease.Entry);
            }
            catch (Exception e) when (e is ModelLoadException or ModelNotFoundException or ObjectDisposedException)
            {
                Log.PreloadFailed(_logger, entry.Name, e);
            }
        }
    }

    /// <summary>Logs, counts and raises a failed load; one place, whether the estimate or the load failed.</summary>
    /// <summary>After a failure of the model's file (not of memory, time or shutdown), the model is not retried for <c>failure_cooldown</c> while the file stays as it was.</summary>
    private void StartCoolDown(ModelEntry entry, Exception error)
    {
        if (error is ModelFormatException format && _config.FailureCooldown > TimeSpan.Zero)
        {
            entry.StartCoolDown(format, _time.GetTimestamp() + (long)(_config.FailureCooldown.TotalSeconds * _time.TimestampFrequency));
        }
    }

    /// <summary>Repeats a cooling-down model's file failure at once (logged once per cool-down, as a Warning without a stack), instead of reading the file again.</summary>
    internal void ThrowIfCoolingDown(ModelEntry entry)
    {
        if (entry.State == ModelState.Unloaded && entry.CoolingDown(_time.GetTimestamp(), out var first) is { } error)
        {
            if (first)
            {
                Log.CoolingDown(_logger, entry.Name, _config.FailureCooldown.TotalSeconds, error.Message);
            }

            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
        }
    }

    private void ReportLoadFailure(ModelEntry entry, Exception error)
    {
        _metrics.LoadFailed(entry.Descriptor, error);
        Log.LoadFailed(_logger, entry.Name, error);
        RaiseEvent(new ModelEventArgs(entry.Name, ModelEventKind.LoadFailed, bytes: entry.Memory.Estimated, exception: error));
    }

    private static ModelLoadException Wrap(ModelEntry entry, Exception e) => e switch
    {
        ModelLoadException m => m,
        FileNotFoundException f => new ModelFormatException(f.FileName ?? entry.Descriptor.Path ?? "", $"file not found (model '{entry.Name}')", modelName: entry.Name, innerException: f),
        DirectoryNotFoundException d => new ModelFormatException(entry.Descriptor.Path ?? "", $"folder not found (model '{entry.Name}')", modelName: entry.Name, innerException: d),
        FormatException f => new ModelLoadException(entry.Name, $"Model '{entry.Name}' has an invalid setting: {f.Message}", f),
        _ => new ModelLoadException(entry.Name, $"Model '{entry.Name}' ({entry.Descriptor.Type}) failed to load: {e.Message}", e),
    };

    /// <summary>Forwards a backend's load progress to <see cref="LoadProgress"/>.</summary>
    private sealed class Progress(DefaultModelManager manager, string model) : IProgress<double>
    {
        public void Report(double value) => manager.RaiseProgress(model, Math.Clamp(value, 0, 1));
    }
}
