namespace ModelManager;

/// <summary>Pins a loaded model in memory until disposed; the manager will not evict or free it meanwhile.</summary>
/// <remarks>Dispose releases the pin and never unloads the model. Disposing twice is harmless.</remarks>
public sealed class ModelLease : IDisposable, IAsyncDisposable
{
    private readonly DefaultModelManager _manager;
    private readonly ModelEntry _entry;
    private readonly IModelInstance _instance;
    private int _released;

    internal ModelLease(string requestedName, ILanguageModel model, InstanceLease lease, DefaultModelManager manager)
    {
        RequestedName = requestedName;
        Model = model;
        _entry = lease.Entry;
        _instance = lease.Instance;
        _manager = manager;
    }

    /// <summary>The name that was asked for.</summary>
    public string RequestedName { get; }

    /// <summary>The model that is pinned (a fallback when the requested one could not load).</summary>
    public string ModelName => Model.Name;

    /// <summary>True when <see cref="ModelName"/> is a fallback for <see cref="RequestedName"/>.</summary>
    public bool IsFallback => !string.Equals(RequestedName, ModelName, StringComparison.Ordinal);

    /// <summary>A handle to the pinned model.</summary>
    public ILanguageModel Model { get; }

    /// <summary>True once the lease has been released.</summary>
    public bool IsReleased => Volatile.Read(ref _released) != 0;

    /// <summary>Returns an object of <paramref name="serviceType"/> that the pinned model holds (a backend's native model, say), or null.</summary>
    /// <remarks>Valid only until the lease is released: the manager may free it afterwards. The caller never disposes it.</remarks>
    /// <exception cref="ObjectDisposedException">The lease was released.</exception>
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        ObjectDisposedException.ThrowIf(IsReleased, this);
        return _instance.GetService(serviceType, serviceKey);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            _manager.Release(_entry);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
