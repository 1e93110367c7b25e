namespace ModelManager;

internal sealed partial class DefaultModelManager
{
    private readonly object _callbackLock = new();
    private Action<string>[][] _callbacks = Enumerable.Range(0, Enum.GetValues<ModelEventKind>().Length).Select(_ => Array.Empty<Action<string>>()).ToArray();

    public event EventHandler<ModelEventArgs>? ModelEvent;

    public event EventHandler<ModelLoadProgress>? LoadProgress;

    public IDisposable RegisterCallback(ModelEventKind kind, Action<string> callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (!Enum.IsDefined(kind))
        {
            throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown event kind.");
        }

        lock (_callbackLock)
        {
            var all = (Action<string>[][])_callbacks.Clone();
            all[(int)kind] = [.. all[(int)kind], callback];
            _callbacks = all;
        }

        return new Registration(this, kind, callback);
    }

    private void Unregister(ModelEventKind kind, Action<string> callback)
    {
        lock (_callbackLock)
        {
            var all = (Action<string>[][])_callbacks.Clone();
            var list = all[(int)kind].ToList();
            list.Remove(callback);
            all[(int)kind] = [.. list];
            _callbacks = all;
        }
    }

    /// <summary>Raises an event to handlers and callbacks; a throwing one is logged and the rest still run.</summary>
    private void RaiseEvent(ModelEventArgs args)
    {
        if (ModelEvent is { } handlers)
        {
            foreach (var handler in handlers.GetInvocationList())
            {
                try
                {
                    ((EventHandler<ModelEventArgs>)handler)(this, args);
                }
                catch (Exception e)
                {
                    Log.CallbackFailed(_logger, args.Kind, args.ModelName, e);
                }
            }
        }

        foreach (var callback in Volatile.Read(ref _callbacks)[(int)args.Kind])
        {
            try
            {
                callback(args.ModelName);
            }
            catch (Exception e)
            {
                Log.CallbackFailed(_logger, args.Kind, args.ModelName, e);
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
            Log.CallbackFailed(_logger, ModelEventKind.Loaded, model, e);
        }
    }

    private sealed class Registration(DefaultModelManager owner, ModelEventKind kind, Action<string> callback) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Unregister(kind, callback);
            }
        }
    }
}
