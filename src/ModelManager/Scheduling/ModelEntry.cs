namespace ModelManager;

/// <summary>One configured model's runtime state: its state machine, leases, instance and counters.</summary>
/// <remarks>
/// State changes happen under <see cref="Gate"/>; the warm path reads <see cref="StateValue"/> and counts leases with
/// Interlocked only. Budget fields (<see cref="ChargedBytes"/>) are guarded by the manager's budget lock.
/// </remarks>
internal sealed class ModelEntry
{
    internal int StateValue;
    internal int LeaseCount;
    internal long LastAccessTimestamp;
    internal long AccessCount;

    private volatile ModelDescriptor _descriptor;
    private volatile IModelBackend _backend;
    private volatile bool _retired;

    public ModelEntry(ModelDescriptor descriptor, IModelBackend backend)
    {
        _descriptor = descriptor;
        _backend = backend;
    }

    /// <summary>The model's current description; a reload may replace it (priority, idle time, and so on).</summary>
    public ModelDescriptor Descriptor
    {
        get => _descriptor;
        set => _descriptor = value;
    }

    public IModelBackend Backend
    {
        get => _backend;
        set => _backend = value;
    }

    /// <summary>True once a reload removed the model: it unloads when its leases drain and cannot be leased again.</summary>
    public bool Retired
    {
        get => _retired;
        set => _retired = value;
    }

    public string Name => Descriptor.Name;

    public int Priority => Descriptor.MemoryPriority;

    public object Gate { get; } = new();

    public ModelState State => (ModelState)Volatile.Read(ref StateValue);

    public int Leases => Volatile.Read(ref LeaseCount);

    // Valid while Ready or Unloading; set before the state becomes Ready.
    public IModelInstance? Instance { get; set; }

    public CancellationTokenSource? CallCts { get; set; }

    public CancellationToken CallToken { get; set; }

    public Task? LoadTask { get; set; }

    public TaskCompletionSource? UnloadDone { get; set; }

    public volatile TaskCompletionSource? Drained;

    public UnloadReason PendingReason { get; set; }

    // Guarded by the manager's budget lock.
    public long ChargedBytes { get; set; }

    public long EstimatedBytes { get; set; }

    public long ActualBytes { get; set; }

    public int LoadCount;
    public int EvictionCount;
    public int FailureCount;
    public int FallbackCount;

    public TimeSpan? LastLoadDuration { get; set; }

    public ManagedLanguageModel? Handle;
}
