namespace ModelManager;

/// <summary>One configured model at run time: its state machine, its leases, its loaded instance and its counters.</summary>
/// <remarks>
/// The state machine is Unloaded → Loading → Ready → Unloading → Unloaded, and Loading → Unloaded when a load fails. Every
/// transition is a method here, taken under the entry's private gate; the warm path (<see cref="TryLease"/>,
/// <see cref="ReleaseLease"/>) uses Interlocked operations only. The entry's share of the memory budget
/// (<see cref="Memory"/>) belongs to <see cref="MemoryBudget"/> and is guarded by its lock. Lock order: budget, then gate.
/// </remarks>
internal sealed class ModelEntry
{
    private const long LeaseAndAccess = (1L << 32) | 1;

    private readonly object _gate = new();

    // Written under _gate; read lock-free by the warm path.
    private int _state;
    // The lease count (low 32 bits, as an int) and the leases taken modulo 2^32 (high 32 bits): one Interlocked add
    // counts both on the warm path. _accessWraps counts the high half's wraps, so that AccessCount stays a long.
    private long _leaseWord;
    private long _accessWraps;
    private int _calls;
    private long _busyCount;
    private long _lastAccess;

    // Valid while Ready or Unloading: set before the state becomes Ready, cleared after it becomes Unloaded.
    private IModelInstance? _instance;
    private CancellationTokenSource? _callCts;
    private CancellationToken _callToken;

    // The task of the load in flight (Loading), and the unload in flight (Unloading) with its drain signal and reason.
    private Task? _loadTask;
    private TaskCompletionSource? _unloadDone;
    private volatile TaskCompletionSource? _drained;
    private UnloadReason _unloadReason;

    private int _loadCount;
    private int _evictionCount;
    private int _failureCount;
    private CoolDown? _coolDown;
    private int _fallbackCount;
    private TimeSpan? _lastLoadDuration;

    private volatile ModelDescriptor _descriptor;
    private volatile IModelBackend _backend;
    private volatile bool _retired;
    private ModelHandle? _handle;

    public ModelEntry(ModelDescriptor descriptor, IModelBackend backend)
    {
        _descriptor = descriptor;
        _backend = backend;
    }

    /// <summary>The model's current description; a reload may replace it (priority, idle time, and so on).</summary>
    public ModelDescriptor Descriptor => _descriptor;

    public IModelBackend Backend => _backend;

    public string Name => Descriptor.Name;

    public int Priority => Descriptor.MemoryPriority;

    /// <summary>True once a reload removed the model: it unloads when its leases drain and cannot be leased again.</summary>
    public bool Retired => _retired;

    public ModelState State => (ModelState)Volatile.Read(ref _state);

    public int Leases => (int)Volatile.Read(ref _leaseWord);

    /// <summary>The <see cref="TimeProvider"/> timestamp of the last lease release (from <see cref="CoarseClock"/>, up to a period early) or load.</summary>
    public long LastAccessTimestamp => Volatile.Read(ref _lastAccess);

    /// <summary>Leases taken so far.</summary>
    public long AccessCount => (Volatile.Read(ref _accessWraps) << 32) + (long)((ulong)Volatile.Read(ref _leaseWord) >> 32);

    /// <summary>This entry's share of the budget; read and written only under <see cref="MemoryBudget"/>'s lock.</summary>
    public MemoryBudget.Share Memory { get; } = new();

    /// <summary>The load in flight, if any (for shutdown to wait on).</summary>
    public Task? LoadTask => _loadTask;

    /// <summary>The entry's handle for <see cref="IModelManager.GetModel"/>, once <see cref="PublishHandle"/> set it.</summary>
    public ModelHandle? Handle => Volatile.Read(ref _handle);

    /// <summary>Sets the handle if none is set yet; returns the one that won.</summary>
    public ModelHandle PublishHandle(ModelHandle handle) => Interlocked.CompareExchange(ref _handle, handle, null) ?? handle;

    /// <summary>A reload changed the model's description; <paramref name="backend"/> serves its type.</summary>
    public void Reconfigure(ModelDescriptor descriptor, IModelBackend backend)
    {
        _descriptor = descriptor;
        _backend = backend;
        Volatile.Write(ref _coolDown, null); // new settings (a new path, say) deserve a new try
    }

    // ---- Failure cool-down -----------------------------------------------------------------------------------------

    /// <summary>After a load failed because of the model's file: the failure is repeated instead of a load until <paramref name="until"/> (a timestamp) or until the file changes.</summary>
    public void StartCoolDown(ModelFormatException error, long until) =>
        Volatile.Write(ref _coolDown, new CoolDown(error, until, FileStamp.Of(Descriptor.Path)));

    /// <summary>The failure to repeat instead of loading, while the model cools down and its file is as it was; null once either ends.</summary>
    /// <param name="now">A timestamp of the manager's clock.</param>
    /// <param name="first">True the first time this cool-down is reported, so that it is logged once.</param>
    public ModelFormatException? CoolingDown(long now, out bool first)
    {
        first = false;
        var c = Volatile.Read(ref _coolDown);
        if (c is null)
        {
            return null;
        }

        if (now >= c.Until || FileStamp.Of(Descriptor.Path) != c.Stamp)
        {
            Interlocked.CompareExchange(ref _coolDown, null, c);
            return null;
        }

        first = Interlocked.Exchange(ref c.Reported, 1) == 0;
        return c.Error;
    }

    /// <summary>A failed load's file failure, until when it stands, and the file as it was.</summary>
    private sealed class CoolDown(ModelFormatException error, long until, FileStamp stamp)
    {
        public ModelFormatException Error { get; } = error;

        public long Until { get; } = until;

        public FileStamp Stamp { get; } = stamp;

        public int Reported;
    }

    /// <summary>What says a model's file changed: a file's length and write time, or a folder's newest write among it and its files; read with stat only, never opened.</summary>
    private readonly record struct FileStamp(long Length, DateTime WrittenUtc)
    {
        public static FileStamp Of(string? path)
        {
            try
            {
                if (string.IsNullOrEmpty(path))
                {
                    return default;
                }

                if (File.Exists(path))
                {
                    var file = new FileInfo(path);
                    return new FileStamp(file.Length, file.LastWriteTimeUtc);
                }

                if (Directory.Exists(path))
                {
                    var folder = new DirectoryInfo(path);
                    var files = folder.GetFiles();
                    return new FileStamp(files.Length, files.Select(f => f.LastWriteTimeUtc).Append(folder.LastWriteTimeUtc).Max());
                }

                return new FileStamp(-1, default);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return new FileStamp(-2, default);
            }
        }
    }

    /// <summary>A reload removed the model.</summary>
    public void Retire() => _retired = true;

    /// <summary>Generation calls the model holds now (running or waiting in its backend).</summary>
    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Admits one generation call unless the model already holds <paramref name="maxQueue"/> (0 = no limit); lock-free.</summary>
    public bool TryEnterCall(int maxQueue, out int calls)
    {
        while (true)
        {
            calls = Volatile.Read(ref _calls);
            if (maxQueue > 0 && calls >= maxQueue)
            {
                Interlocked.Increment(ref _busyCount);
                return false;
            }

            if (Interlocked.CompareExchange(ref _calls, calls + 1, calls) == calls)
            {
                return true;
            }
        }
    }

    /// <summary>Ends a call <see cref="TryEnterCall"/> admitted.</summary>
    public void ExitCall() => Interlocked.Decrement(ref _calls);

    /// <summary>Counts a call that waited past <c>queue_timeout</c>.</summary>
    public void CountBusy() => Interlocked.Increment(ref _busyCount);

    // ---- Warm path -------------------------------------------------------------------------------------------------

    /// <summary>Leases the model if it is Ready: one Interlocked increment and a state read, no lock, no clock.</summary>
    /// <param name="lease">The lease, when this returns true.</param>
    /// <param name="drained">When this returns false: the attempt's own lease count was the last one (see <see cref="ReleaseLease"/>).</param>
    public bool TryLease(out InstanceLease lease, out bool drained)
    {
        AddLease();
        if (Volatile.Read(ref _state) == (int)ModelState.Ready)
        {
            lease = new InstanceLease(this, _instance!, _callToken);
            drained = false;
            return true;
        }

        drained = DecrementLease(uncountAccess: true);
        lease = default;
        return false;
    }

    /// <summary>Ends a lease and stamps the last access; true when it was the last one.</summary>
    /// <remarks>The last lease of an unloading model signals the unload that it may dispose the instance.</remarks>
    public bool ReleaseLease(long timestamp)
    {
        Volatile.Write(ref _lastAccess, timestamp);
        return DecrementLease(uncountAccess: false);
    }

    /// <summary>Counts a lease and an access in one Interlocked add.</summary>
    private void AddLease()
    {
        if ((ulong)Interlocked.Add(ref _leaseWord, LeaseAndAccess) >> 32 == 0)
        {
            Interlocked.Increment(ref _accessWraps);
        }
    }

    /// <summary>Ends a lease (and takes back its access when the lease was not granted); true when it was the last one.</summary>
    private bool DecrementLease(bool uncountAccess)
    {
        var word = Interlocked.Add(ref _leaseWord, uncountAccess ? -LeaseAndAccess : -1);
        if (uncountAccess && (ulong)word >> 32 == uint.MaxValue)
        {
            Interlocked.Decrement(ref _accessWraps);
        }

        if ((int)word != 0)
        {
            return false;
        }

        if (Volatile.Read(ref _state) == (int)ModelState.Unloading)
        {
            _drained?.TrySetResult();
        }

        return true;
    }

    // ---- Load ------------------------------------------------------------------------------------------------------

    /// <summary>
    /// The cold path's one decision: lease a Ready model, or return the task to wait for (a load or an unload in
    /// flight), or begin a load, in which case <paramref name="startLoad"/> is the caller's to complete.
    /// </summary>
    public bool TryLeaseOrWait(long timestamp, out InstanceLease lease, out Task wait, out TaskCompletionSource? startLoad)
    {
        startLoad = null;
        lock (_gate)
        {
            switch (State)
            {
                case ModelState.Ready:
                    AddLease();
                    Volatile.Write(ref _lastAccess, timestamp);
                    lease = new InstanceLease(this, _instance!, _callToken);
                    wait = Task.CompletedTask;
                    return true;
                case ModelState.Loading:
                    wait = _loadTask!;
                    break;
                case ModelState.Unloading:
                    wait = _unloadDone!.Task;
                    break;
                default:
                    startLoad = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _loadTask = wait = startLoad.Task;
                    Volatile.Write(ref _state, (int)ModelState.Loading);
                    break;
            }
        }

        lease = default;
        return false;
    }

    /// <summary>Loading → Ready: the loaded instance serves leases from now on.</summary>
    public void Publish(IModelInstance instance, long timestamp, TimeSpan loadDuration)
    {
        var cts = new CancellationTokenSource();
        lock (_gate)
        {
            _instance = instance;
            _callCts = cts;
            _callToken = cts.Token;
            _loadTask = null;
            _lastLoadDuration = loadDuration;
            Volatile.Write(ref _lastAccess, timestamp);
            Volatile.Write(ref _state, (int)ModelState.Ready);
        }

        Interlocked.Increment(ref _loadCount);
    }

    /// <summary>Loading → Unloaded: the load failed and left nothing behind.</summary>
    public void FailLoad()
    {
        lock (_gate)
        {
            _loadTask = null;
            Volatile.Write(ref _state, (int)ModelState.Unloaded);
        }

        Interlocked.Increment(ref _failureCount);
    }

    // ---- Unload ----------------------------------------------------------------------------------------------------

    /// <summary>
    /// Asks for the model to unload. <see cref="UnloadStep.Begun"/>: it was Ready and is now Unloading, and the caller
    /// must finish the unload (<see cref="DrainAndDisposeAsync"/>, then <see cref="MarkUnloaded"/>). Otherwise <paramref name="wait"/> is the load or unload in
    /// flight (null when Unloaded); with <paramref name="force"/>, an unload in flight becomes forced.
    /// </summary>
    public UnloadStep RequestUnload(UnloadReason reason, bool force, out Task? wait)
    {
        lock (_gate)
        {
            switch (State)
            {
                case ModelState.Loading:
                    wait = _loadTask;
                    return UnloadStep.Loading;
                case ModelState.Unloading:
                    if (force)
                    {
                        _unloadReason = UnloadReason.Forced;
                        _callCts?.Cancel();
                    }

                    wait = _unloadDone!.Task;
                    return UnloadStep.Unloading;
                case ModelState.Ready:
                    wait = null;
                    return BeginUnload(reason, onlyIfIdle: false) ? UnloadStep.Begun : UnloadStep.NotLoaded;
                default:
                    wait = null;
                    return UnloadStep.NotLoaded;
            }
        }
    }

    /// <summary>Ready → Unloading if no lease holds the model; true when the caller must finish the unload (<see cref="DrainAndDisposeAsync"/>, then <see cref="MarkUnloaded"/>).</summary>
    public bool TryBeginEviction(UnloadReason reason)
    {
        lock (_gate)
        {
            return BeginUnload(reason, onlyIfIdle: true);
        }
    }

    /// <summary>
    /// The first half of finishing an unload begun by <see cref="RequestUnload"/> or <see cref="TryBeginEviction"/>:
    /// waits for the leases to drain (cancelling their calls first when forced) and disposes the instance.
    /// </summary>
    /// <exception cref="Exception">What the instance's dispose threw; the unload goes on regardless.</exception>
    public async Task DrainAndDisposeAsync(bool force)
    {
        if (force)
        {
            _callCts?.Cancel();
        }

        if (Leases != 0)
        {
            await _drained!.Task.ConfigureAwait(false);
        }

        UnloadReason reason;
        lock (_gate)
        {
            reason = _unloadReason;
        }

        try
        {
            await _instance!.UnloadingAsync(reason).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // A backend's failure to save state must not stop the unload; backends log their own.
        }

        await _instance!.DisposeAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// The second half: Unloading → Unloaded. The caller frees the budget before (a reload may start the moment the
    /// state says Unloaded), reports the unload, then completes <paramref name="done"/> for those waiting on it.
    /// </summary>
    /// <returns>Why the model was unloaded.</returns>
    public UnloadReason MarkUnloaded(out TaskCompletionSource done)
    {
        UnloadReason reason;
        CancellationTokenSource? cts;
        lock (_gate)
        {
            reason = _unloadReason;
            done = _unloadDone!;
            cts = _callCts;
            _instance = null;
            _callCts = null;
            _drained = null;
            Volatile.Write(ref _state, (int)ModelState.Unloaded);
        }

        cts?.Dispose();
        if (reason.IsEviction())
        {
            Interlocked.Increment(ref _evictionCount);
        }

        return reason;
    }

    /// <summary>True when the model is Unloaded and <paramref name="wait"/> was the unload that did it.</summary>
    public bool WasUnloadedBy(Task wait) => State == ModelState.Unloaded && wait == _unloadDone?.Task;

    /// <summary>Why the unload in flight happens (valid while Unloading).</summary>
    public UnloadReason UnloadReason => _unloadReason;

    /// <summary>Cancels the calls in flight on this model (shutdown's grace period is over).</summary>
    public void CancelCalls()
    {
        try
        {
            _callCts?.Cancel();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    // ---- Counters --------------------------------------------------------------------------------------------------

    public void RecordFallback() => Interlocked.Increment(ref _fallbackCount);

    /// <summary>A load that failed before it began (a bad file found while sizing the model) counts as a failed load.</summary>
    public void RecordFailure() => Interlocked.Increment(ref _failureCount);

    /// <summary>A snapshot of the entry's counters; the caller holds the budget lock (for <see cref="Memory"/>).</summary>
    /// <summary>The loaded instance's cache that can be given back without unloading, or null.</summary>
    public IReclaimableMemory? Reclaimable => Volatile.Read(ref _instance)?.GetService(typeof(IReclaimableMemory)) as IReclaimableMemory;

    public ModelStats GetStats(TimeProvider time, DateTimeOffset now)
    {
        var accesses = AccessCount;
        var loads = Volatile.Read(ref _loadCount);
        return new ModelStats
        {
            Name = Name,
            Type = Descriptor.Type,
            State = State,
            AccessCount = accesses,
            MemoryUsageMb = Memory.Charged / MemoryBudget.Mb,
            EstimatedBytes = Memory.Estimated,
            ActualBytes = Memory.Actual,
            ActiveLeases = Math.Max(0, Leases),
            ActiveCalls = Math.Max(0, Calls),
            BusyCount = Volatile.Read(ref _busyCount),
            Priority = Priority,
            LastAccessUtc = accesses == 0 && loads == 0 ? null : now - time.GetElapsedTime(LastAccessTimestamp),
            LoadCount = loads,
            EvictionCount = Volatile.Read(ref _evictionCount),
            LastLoadDuration = _lastLoadDuration,
            FailureCount = Volatile.Read(ref _failureCount),
            FallbackCount = Volatile.Read(ref _fallbackCount),
            PromptCache = Volatile.Read(ref _instance)?.GetService(typeof(PromptCacheStats)) as PromptCacheStats,
            HugePageBytes = (Volatile.Read(ref _instance)?.GetService(typeof(MemoryPlacement)) as MemoryPlacement)?.HugePageBytes ?? 0,
            CoolDownUntil = Volatile.Read(ref _coolDown) is { } c && c.Until > time.GetTimestamp()
                ? now + TimeSpan.FromSeconds((c.Until - time.GetTimestamp()) / (double)time.TimestampFrequency)
                : null,
        };
    }

    public override string ToString() => $"{Name} ({State}, {Leases} lease(s), priority {Priority})";

    // Caller holds _gate.
    private bool BeginUnload(UnloadReason reason, bool onlyIfIdle)
    {
        if (State != ModelState.Ready)
        {
            return false;
        }

        _drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // A full fence: a warm-path acquirer either sees Unloading or its lease is seen here.
        Interlocked.Exchange(ref _state, (int)ModelState.Unloading);
        if (onlyIfIdle && Leases != 0)
        {
            Volatile.Write(ref _state, (int)ModelState.Ready);
            _drained = null;
            return false;
        }

        _unloadReason = reason;
        _unloadDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return true;
    }
}
