namespace ModelManager;

internal sealed partial class DefaultModelManager
{
    /// <summary>Applies a changed configuration without restart; an invalid one is rejected and the running one kept.</summary>
    /// <remarks>
    /// New models become available at once; removed ones unload when their leases drain; changed priorities, idle times,
    /// fallbacks and parameters take effect at once; a model whose backend settings changed reloads on its next use.
    /// </remarks>
    internal bool ApplyConfiguration(ModelManagerOptions options)
    {
        if (_disposed)
        {
            return false;
        }

        ConfigurationReloadedEventArgs result;
        var unloads = new List<(ModelEntry Entry, UnloadReason Reason)>();
        long? newLimit = null;
        var preload = new List<ModelEntry>();
        lock (_reloadLock)
        {
            ValidatedConfiguration config;
            try
            {
                config = ModelConfigurationValidator.Validate(options, _backends);
            }
            catch (ModelConfigurationException e)
            {
                Log.ReloadRejected(_logger, string.Join(" | ", e.Errors));
                result = new ConfigurationReloadedEventArgs(false, e.Errors, [], [], []);
                RaiseReloaded(result);
                return false;
            }

            var old = _config;
            var added = new List<string>();
            var changed = new List<string>();
            var models = new List<ModelEntry>();
            foreach (var d in config.Models)
            {
                var backend = _backends[d.Type];
                if (old.Entries.TryGetValue(d.Name, out var entry))
                {
                    var before = entry.Descriptor;
                    if (!SameDescriptor(before, d))
                    {
                        changed.Add(d.Name);
                        var reload = !SameBackendSettings(before, d) || entry.Backend != backend;
                        entry.Reconfigure(d, backend);
                        if (reload)
                        {
                            unloads.Add((entry, UnloadReason.Reconfigured));
                        }
                    }

                    models.Add(entry);
                }
                else
                {
                    var fresh = new ModelEntry(d, backend);
                    added.Add(d.Name);
                    models.Add(fresh);
                    if (d.Preload)
                    {
                        preload.Add(fresh);
                    }
                }
            }

            var kept = models.ToHashSet();
            var removed = old.Models.Where(e => !kept.Contains(e)).ToList();
            foreach (var e in removed)
            {
                e.Retire();
                unloads.Add((e, UnloadReason.Removed));
            }

            // Removed entries stay tracked (their memory is still counted) until they finish unloading.
            _budget.UpdateEntries(tracked =>
                [.. models, .. tracked.Where(e => !kept.Contains(e) && e.Retired && (e.State != ModelState.Unloaded || e.Memory.Charged > 0))]);
            if (config.LimitBytes != _budget.LimitBytes)
            {
                newLimit = config.LimitBytes;
            }

            Warnings = config.Warnings;
            _config = new ManagerConfiguration(models.ToArray(), config, old.Version + 1);
            ScheduleSweep(models);
            result = new ConfigurationReloadedEventArgs(true, [], added, removed.Select(e => e.Name).ToArray(), changed);
            Log.Reloaded(_logger, added.Count, removed.Count, changed.Count, config.LimitBytes / MemoryBudget.Mb);
        }

        if (newLimit is { } limit)
        {
            try
            {
                // Does not wait for the evictions: a reload never blocks the thread that reports the change.
                _ = ApplyMemoryLimit(limit / (1024 * 1024));
            }
            catch (ObjectDisposedException)
            {
                return false; // shutdown began while this reload ran
            }
        }

        foreach (var (entry, reason) in unloads)
        {
            _ = UnloadForReloadAsync(entry, reason);
        }

        if (preload.Count > 0)
        {
            _ = PreloadAsync(preload, CancellationToken.None);
        }

        RaiseReloaded(result);
        return true;
    }

    /// <summary>Applies every later change of the options (hot reload) until shutdown.</summary>
    internal void WatchConfiguration(Microsoft.Extensions.Options.IOptionsMonitor<ModelManagerOptions> monitor) =>
        _reloadSubscription = monitor.OnChange((options, _) => ApplyConfiguration(options));

    /// <summary>Unloads a removed or reconfigured model once its leases drain (waiting for a load in flight first).</summary>
    private async Task UnloadForReloadAsync(ModelEntry entry, UnloadReason reason)
    {
        try
        {
            while (true)
            {
                var step = entry.RequestUnload(reason, force: false, out var wait);
                if (step == UnloadStep.Begun)
                {
                    await CompleteUnloadAsync(entry, force: false).ConfigureAwait(false);
                    break;
                }

                if (wait is null)
                {
                    break;
                }

                try
                {
                    await wait.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // A failed load leaves nothing to unload.
                }

                if (reason == UnloadReason.Reconfigured)
                {
                    // A load that started after the reload already used the new settings only if it began after the swap; unload once to be sure.
                    continue;
                }
            }
        }
        catch (ObjectDisposedException)
        {
        }

        if (entry.Retired)
        {
            _budget.UpdateEntries(tracked => tracked.Where(e => e != entry).ToArray());
        }
        else if (reason == UnloadReason.Reconfigured)
        {
            _budget.ForgetActual(entry); // new settings, new size: forget what the old ones used
        }
    }

    private void ScheduleSweep(IEnumerable<ModelEntry> models)
    {
        var idle = models.Where(e => e.Descriptor.MaxIdleTime > TimeSpan.Zero).Select(e => e.Descriptor.MaxIdleTime).DefaultIfEmpty().Min();
        SweepInterval = idle > TimeSpan.Zero
            ? TimeSpan.FromTicks(Math.Clamp(idle.Ticks / 4, TimeSpan.TicksPerSecond, 30 * TimeSpan.TicksPerSecond))
            : TimeSpan.Zero;
        // One-shot: each sweep sets the next for the earliest model due (see SweepIdle).
        _sweepTimer.Change(SweepInterval > TimeSpan.Zero ? SweepInterval : Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private static bool SameDescriptor(ModelDescriptor a, ModelDescriptor b) =>
        SameBackendSettings(a, b)
        && a.MemoryPriority == b.MemoryPriority
        && a.MaxIdleTime == b.MaxIdleTime
        && a.MaxQueue == b.MaxQueue
        && a.QueueTimeout == b.QueueTimeout
        && a.Preload == b.Preload
        && a.Fallbacks.SequenceEqual(b.Fallbacks)
        && a.Parameters.Equals(b.Parameters);

    /// <summary>True when nothing the backend reads at load time changed.</summary>
    private static bool SameBackendSettings(ModelDescriptor a, ModelDescriptor b) =>
        a.Type == b.Type
        && a.Path == b.Path
        && a.ContextLength == b.ContextLength
        && a.Capabilities == b.Capabilities // a gguf model asked for embeddings loads an embedding context too
        && a.RawSettings.Count == b.RawSettings.Count
        && a.RawSettings.All(kv => b.RawSettings.TryGetValue(kv.Key, out var v) && v == kv.Value);
}
