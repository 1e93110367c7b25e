namespace ModelManager;

/// <summary>One event system: <see cref="IModelManager.ModelEvent"/>; callbacks are handlers filtered by kind.</summary>
internal sealed partial class DefaultModelManager
{
    public IDisposable RegisterCallback(ModelEventKind kind, Action<string> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown event kind.");
        }

        var subscription = new CallbackSubscription(this, kind, callback);
        ModelEvent += subscription.Handle;
        return subscription;
    }

    /// <summary>Raises a model event; a throwing handler is logged with the event's kind and the rest still run.</summary>
    private void RaiseEvent(ModelEventArgs args)
    {
        if (ModelEvent is not { } handlers)
        {
            return;
        }

        foreach (var handler in handlers.GetInvocationList())
        {
            try
            {
                ((EventHandler<ModelEventArgs>)handler)(this, args);
            }
            catch (Exception e)
            {
                Log.HandlerFailed(_logger, $"{nameof(ModelEvent)}({args.Kind})", args.ModelName, e);
            }
        }
    }

    private void RaiseProgress(string model, double progress)
    {
        try
        {
            LoadProgress?.Invoke(this, new ModelLoadProgress(model, progress));
        }
        catch (Exception e)
        {
            Log.HandlerFailed(_logger, nameof(LoadProgress), model, e);
        }
    }

    private void RaiseReloaded(ConfigurationReloadedEventArgs args)
    {
        try
        {
            ConfigurationReloaded?.Invoke(this, args);
        }
        catch (Exception e)
        {
            Log.HandlerFailed(_logger, nameof(ConfigurationReloaded), "(configuration)", e);
        }
    }

    /// <summary>A <see cref="RegisterCallback"/> registration: a <see cref="ModelEvent"/> handler until disposed.</summary>
    private sealed class CallbackSubscription(DefaultModelManager owner, ModelEventKind kind, Action<string> callback) : IDisposable
    {
        private int _disposed;

        public void Handle(object? sender, ModelEventArgs args)
        {
            if (args.Kind == kind)
            {
                callback(args.ModelName);
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.ModelEvent -= Handle;
            }
        }
    }
}
