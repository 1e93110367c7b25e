namespace ModelManager;

internal sealed partial class DefaultModelManager
{
    private readonly object _budgetLock = new();
    private long _limitBytes;
    private long _usedBytes;
    private TaskCompletionSource _memoryChanged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Runs one model's load: estimate, reserve (evicting as needed), load, record actual bytes, publish.</summary>
    private async Task RunLoadAsync(ModelEntry entry, TaskCompletionSource done)
    {
        var started = _time.GetTimestamp();
        var reserved = false;
        using var activity = ModelManagerMetrics.ActivitySource.StartActivity("modelmanager.load");
        activity?.SetTag(ModelManagerTags.Model, entry.Name).SetTag(ModelManagerTags.ModelType, entry.Descriptor.Type);
        try
        {
            ThrowIfDisposed();
            var estimate = await EstimateAsync(entry, _shutdownCts.Token).ConfigureAwait(false);
            Log.Loading(_logger, entry.Name, entry.Descriptor.Type, estimate / Mb);
            await ReserveAsync(entry, estimate).ConfigureAwait(false);
            reserved = true;

            var instance = await LoadWithTimeoutAsync(entry).ConfigureAwait(false);

            var actual = Math.Max(0, instance.MemoryBytes);
            long over;
            lock (_budgetLock)
            {
                var charged = Math.Max(estimate, actual);
                _usedBytes += charged - entry.ChargedBytes;
                entry.ChargedBytes = charged;
                entry.ActualBytes = actual;
                over = _usedBytes - _limitBytes;
            }

            var cts = new CancellationTokenSource();
            lock (entry.Gate)
            {
                entry.Instance = instance;
                entry.CallCts = cts;
                entry.CallToken = cts.Token;
                entry.LoadTask = null;
                entry.LastAccessTimestamp = _time.GetTimestamp();
                Volatile.Write(ref entry.StateValue, (int)ModelState.Ready);
            }

            var duration = _time.GetElapsedTime(started);
            entry.LastLoadDuration = duration;
            Interlocked.Increment(ref entry.LoadCount);
            _metrics.Loaded(entry.Descriptor, duration);
            activity?.SetTag("modelmanager.bytes", Math.Max(estimate, actual));
            var usage = GetMemoryUsage();
            Log.Loaded(_logger, entry.Name, duration.TotalMilliseconds, estimate / Mb, actual / Mb, usage.TotalMb, usage.LimitMb);
            RaiseEvent(new ModelEventArgs(entry.Name, ModelEventKind.Loaded, bytes: Math.Max(estimate, actual)));

            if (over > 0)
            {
                // The backend used more than it estimated: the budget must still hold, so evict idle models, least
                // important first (any priority: the alternative is running over budget). Later loads of this model
                // reserve what it really used.
                Log.OverEstimate(_logger, entry.Name, actual / Mb, estimate / Mb, over / Mb);
                await EnforceLimitAsync(UnloadReason.MemoryLimit, maxPriority: 1, entry).ConfigureAwait(false);
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
            var error = _disposed && e is OperationCanceledException or ObjectDisposedException
                ? new ObjectDisposedException(nameof(IModelManager), "The model manager was shut down while the model loaded.")
                : e is ModelLoadException ? e : Wrap(entry, e);
            if (reserved)
            {
                ReleaseBytes(entry);
            }

            lock (entry.Gate)
            {
                entry.LoadTask = null;
                Volatile.Write(ref entry.StateValue, (int)ModelState.Unloaded);
            }

            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, error.Message);
            ReportLoadFailure(entry, error);
            done.TrySetException(error);
        }
    }

    /// <summary>Runs the backend's load, cancelling it after <c>load_timeout</c>; a load that ignores cancellation is abandoned and its instance disposed when it finally arrives.</summary>
    private async Task<IModelInstance> LoadWithTimeoutAsync(ModelEntry entry)
    {
        var timeout = _config.LoadTimeout;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(_shutdownCts.Token);
        Task<IModelInstance> load;
        try
        {
            load = entry.Backend.LoadAsync(entry.Descriptor, new Progress(this, entry.Name), cts.Token);
        }
        catch (Exception e) when (e is not ModelLoadException)
        {
            throw Wrap(entry, e);
        }

        try
        {
            return timeout == Timeout.InfiniteTimeSpan
                ? await load.ConfigureAwait(false)
                : await load.WaitAsync(timeout, _time).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            await cts.CancelAsync().ConfigureAwait(false);
            _ = load.ContinueWith(static (t, state) => t.Result.DisposeAsync(), null, CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            throw new ModelLoadException(entry.Name, $"Model '{entry.Name}' did not load within load_timeout ({timeout.TotalSeconds:F0} s); the load was cancelled.");
        }
        catch (OperationCanceledException) when (_shutdownCts.IsCancellationRequested)
        {
            throw new ObjectDisposedException(nameof(IModelManager), "The model manager was shut down while the model loaded.");
        }
        catch (Exception e) when (e is not ModelLoadException)
        {
            throw Wrap(entry, e);
        }
    }

    private async ValueTask<long> EstimateAsync(ModelEntry entry, CancellationToken cancellationToken)
    {
        try
        {
            var estimate = await entry.Backend.EstimateBytesAsync(entry.Descriptor, cancellationToken).ConfigureAwait(false);
            if (estimate < 0)
            {
                throw new ModelLoadException(entry.Name, $"Backend '{entry.Descriptor.Type}' estimated a negative size ({estimate} bytes) for model '{entry.Name}'.");
            }

            lock (_budgetLock)
            {
                entry.EstimatedBytes = estimate;

                // A model that once used more than its estimate reserves what it really used.
                return Math.Max(estimate, entry.ActualBytes);
            }
        }
        catch (Exception e) when (e is not ModelLoadException and not OperationCanceledException)
        {
            throw Wrap(entry, e);
        }
    }

    /// <summary>Reserves <paramref name="bytes"/> for <paramref name="entry"/>, evicting idle, no more important models, or waiting for leases to drain.</summary>
    private async Task ReserveAsync(ModelEntry entry, long bytes)
    {
        var deadline = _time.GetTimestamp();
        var announced = false;
        try
        {
            await ReserveCoreAsync(entry, bytes, deadline, () => announced = true).ConfigureAwait(false);
        }
        finally
        {
            if (announced)
            {
                _metrics.WaitedForMemory(entry.Name, _time.GetElapsedTime(deadline));
            }
        }
    }

    private async Task ReserveCoreAsync(ModelEntry entry, long bytes, long deadline, Action onWait)
    {
        var announced = false;
        while (true)
        {
            List<ModelEntry>? victims = null;
            Task? changed = null;
            lock (_budgetLock)
            {
                if (_usedBytes + bytes <= _limitBytes)
                {
                    _usedBytes += bytes;
                    entry.ChargedBytes = bytes;
                    return;
                }

                if (bytes > _limitBytes)
                {
                    throw MemoryError(entry, bytes, $"it needs more than the whole budget");
                }

                var needed = _usedBytes + bytes - _limitBytes - PendingFreeBytes();
                if (needed > 0)
                {
                    victims = SelectVictims(needed, entry.Priority, entry);
                }

                if (victims is null && !CouldEverFit(entry, bytes))
                {
                    throw MemoryError(entry, bytes, "the memory is held by more important models, which a load never evicts");
                }

                if (victims is null)
                {
                    changed = _memoryChanged.Task;
                    Interlocked.Increment(ref _memoryWaiters);
                }
            }

            if (victims is not null)
            {
                foreach (var v in victims)
                {
                    Log.PressureEviction(_logger, v.Name, v.Priority, entry.Name, bytes / Mb);
                }

                await Task.WhenAll(victims.Select(v => CompleteUnloadAsync(v, force: false))).ConfigureAwait(false);
                continue;
            }

            try
            {
                if (!announced)
                {
                    announced = true;
                    onWait();
                    Log.WaitingForMemory(_logger, entry.Name, bytes / Mb, _config.LoadWaitTimeout.TotalSeconds);
                }

                var remaining = _config.LoadWaitTimeout - _time.GetElapsedTime(deadline);
                if (remaining <= TimeSpan.Zero)
                {
                    throw MemoryError(entry, bytes, $"no room could be made within load_wait_timeout ({_config.LoadWaitTimeout.TotalSeconds:F0} s)");
                }

                await changed!.WaitAsync(remaining, _time, _shutdownCts.Token).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                throw MemoryError(entry, bytes, $"no room could be made within load_wait_timeout ({_config.LoadWaitTimeout.TotalSeconds:F0} s)");
            }
            catch (OperationCanceledException) when (_disposed)
            {
                throw new ObjectDisposedException(nameof(IModelManager), "The model manager has been shut down.");
            }
            finally
            {
                Interlocked.Decrement(ref _memoryWaiters);
            }
        }
    }

    /// <summary>Counts, logs and raises a failed load; one place, whether the estimate or the load failed.</summary>
    private void ReportLoadFailure(ModelEntry entry, Exception error)
    {
        Interlocked.Increment(ref entry.FailureCount);
        _metrics.LoadFailed(entry.Descriptor, error);
        Log.LoadFailed(_logger, entry.Name, error);
        RaiseEvent(new ModelEventArgs(entry.Name, ModelEventKind.LoadFailed, bytes: entry.EstimatedBytes, exception: error));
    }

    /// <summary>Fails fast (for fallback chains) when a model cannot fit without waiting for leases.</summary>
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
            ReportLoadFailure(entry, e);
            throw;
        }

        lock (_budgetLock)
        {
            var free = _limitBytes - _usedBytes + PendingFreeBytes();
            foreach (var e in _entryList)
            {
                if (e != entry && e.State == ModelState.Ready && e.Leases == 0 && e.Priority >= entry.Priority)
                {
                    free += e.ChargedBytes;
                }
            }

            if (bytes > free)
            {
                throw MemoryError(entry, bytes, "the models that hold memory are in use or more important");
            }
        }
    }

    /// <summary>False when even evicting every model this load may evict, leased or not, would not make room.</summary>
    /// <remarks>Caller holds the budget lock. Other loads' reservations count as possible room: they may fail.</remarks>
    private bool CouldEverFit(ModelEntry entry, long bytes)
    {
        var room = _limitBytes - _usedBytes;
        foreach (var e in _entryList)
        {
            if (e != entry && (e.Priority >= entry.Priority || e.State is ModelState.Loading or ModelState.Unloading))
            {
                room += e.ChargedBytes;
            }
        }

        return bytes <= room;
    }

    private void ReleaseBytes(ModelEntry entry)
    {
        lock (_budgetLock)
        {
            _usedBytes -= entry.ChargedBytes;
            entry.ChargedBytes = 0;
        }

        SignalMemoryChanged();
    }

    private void SignalMemoryChanged()
    {
        TaskCompletionSource signal;
        lock (_budgetLock)
        {
            signal = _memoryChanged;
            _memoryChanged = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        signal.TrySetResult();
    }

    private void OnLeaseDrained()
    {
        SignalMemoryChanged();
        if (Volatile.Read(ref _overLimit) != 0)
        {
            // Inline: idle victims unload synchronously with most backends, so the budget holds again when Release returns.
            _ = EnforceLimitAsync(UnloadReason.MemoryLimit, maxPriority: 1);
        }
    }

    // Caller holds _budgetLock.
    private long PendingFreeBytes()
    {
        long pending = 0;
        foreach (var e in _entryList)
        {
            if (e.State == ModelState.Unloading)
            {
                pending += e.ChargedBytes;
            }
        }

        return pending;
    }

    private ModelMemoryException MemoryError(ModelEntry entry, long bytes, string why)
    {
        long used;
        long limit;
        List<string> holders;
        lock (_budgetLock)
        {
            used = _usedBytes;
            limit = _limitBytes;
            holders = _entryList
                .Where(e => e.ChargedBytes > 0 && e != entry)
                .OrderByDescending(e => e.ChargedBytes)
                .Select(e => $"{e.Name} ({e.ChargedBytes / Mb:F1} MB, {e.State}, {e.Leases} lease(s), priority {e.Priority})")
                .ToList();
        }

        return new ModelMemoryException(entry.Name, bytes, limit, used, holders,
            $"Model '{entry.Name}' needs {bytes / Mb:F1} MB but the budget is {limit / Mb:F1} MB with {used / Mb:F1} MB in use; {why}. " +
            $"Held by: {(holders.Count == 0 ? "nothing" : string.Join("; ", holders))}.");
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
