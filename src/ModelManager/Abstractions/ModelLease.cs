namespace ModelManager;

/// <summary>Pins a loaded model in memory until disposed; the manager will not evict or free it meanwhile.</summary>
/// <remarks>Dispose releases the pin and never unloads the model. Disposing twice is harmless.</remarks>
public sealed class ModelLease : IDisposable, IAsyncDisposable
{
    private Action? _release;

    internal ModelLease(string requestedName, ILanguageModel model, Action release)
    {
        RequestedName = requestedName;
        Model = model;
        _release = release;
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
    public bool IsReleased => Volatile.Read(ref _release) is null;

    /// <inheritdoc />
    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
