namespace ModelManager;

/// <summary>Type <c>fake</c>: models that hold real native memory, load with a delay or fail on demand, and generate deterministic text.</summary>
/// <remarks>
/// Thread-safe. Reads <c>parameters.size_mb</c> (estimate and allocation), <c>parameters.actual_size_mb</c> (allocate a different
/// amount than estimated), <c>parameters.first_load_extra_mb</c> (the model's first load in this backend allocates that much more,
/// as a runtime's one-time start lands in the first model's measurement), <c>parameters.load_delay_ms</c>, <c>parameters.fail_load</c>, <c>parameters.token_delay_ms</c> and
/// <c>parameters.ignore_cancellation</c>, <c>parameters.fail_estimate</c>, <c>parameters.estimate_delay_ms</c> (the estimate blocks its thread that long) and <c>parameters.unavailable</c> (calls throw
/// <see cref="ModelUnavailableException"/>, later loads fail). Counts use after unload and frees during a call, so tests can assert the manager never does either.
/// </remarks>
public sealed class FakeModelBackend : IModelBackend
{
    private int _liveInstances;
    private int _loads;
    private int _useAfterUnload;
    private int _freedWhileInUse;
    private long _liveBytes;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _loadsByModel = new(StringComparer.Ordinal);
    private int _loading;
    private int _peakLoading;

    /// <inheritdoc />
    public IReadOnlyList<string> Types { get; } = ["fake"];

    /// <inheritdoc />
    public IReadOnlyCollection<string> SettingKeys { get; } =
    [
        "parameters:size_mb", "parameters:actual_size_mb", "parameters:first_load_extra_mb", "parameters:load_delay_ms", "parameters:fail_load",
        "parameters:token_delay_ms", "parameters:fail_message", "parameters:ignore_cancellation", "parameters:fail_estimate", "parameters:estimate_delay_ms", "parameters:unavailable",
        "parameters:eos_after",
    ];

    /// <summary>Instances loaded and not yet disposed.</summary>
    public int LiveInstances => Volatile.Read(ref _liveInstances);

    /// <summary>Native bytes held by live instances.</summary>
    public long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>The most loads that were in progress at the same time.</summary>
    public int PeakConcurrentLoads => Volatile.Read(ref _peakLoading);

    /// <summary>Successful loads since creation.</summary>
    public int Loads => Volatile.Read(ref _loads);

    /// <summary>Calls that touched an instance after it was disposed; the manager must keep this at 0.</summary>
    public int UseAfterUnloadCount => Volatile.Read(ref _useAfterUnload);

    /// <summary>Instances disposed while a call was still running on them; the manager must keep this at 0.</summary>
    public int FreedWhileInUseCount => Volatile.Read(ref _freedWhileInUse);

    /// <inheritdoc />
    public void Validate(ModelDescriptor model, ModelValidationContext context)
    {
        if (model.GetDouble("parameters:size_mb") is { } size && (size < 0 || size > 1024 * 1024))
        {
            context.AddError(model, "parameters:size_mb", $"must be between 0 and 1048576, got {size}");
        }

        if (model.GetDouble("parameters:actual_size_mb") is < 0)
        {
            context.AddError(model, "parameters:actual_size_mb", "must be 0 or more");
        }

        if (model.GetDouble("parameters:first_load_extra_mb") is < 0)
        {
            context.AddError(model, "parameters:first_load_extra_mb", "must be 0 or more");
        }

        if (model.GetInt32("parameters:load_delay_ms") is < 0)
        {
            context.AddError(model, "parameters:load_delay_ms", "must be 0 or more");
        }

        if (model.GetInt32("parameters:eos_after") is < 0)
        {
            context.AddError(model, "parameters:eos_after", "must be 0 or more");
        }

        if (model.GetInt32("parameters:token_delay_ms") is < 0)
        {
            context.AddError(model, "parameters:token_delay_ms", "must be 0 or more");
        }

        _ = model.GetBoolean("parameters:fail_load");
    }

    /// <inheritdoc />
    public ValueTask<long> EstimateBytesAsync(ModelDescriptor model, CancellationToken cancellationToken)
    {
        if (model.GetInt32("parameters:estimate_delay_ms") is > 0 and var delay)
        {
            Thread.Sleep(delay); // a header read that blocks (a slow disk): synchronous, deaf to cancellation
        }

        return model.GetBoolean("parameters:fail_estimate") == true
            ? throw new ModelFormatException(model.Path ?? model.Name, $"fake unreadable model file (parameters.fail_estimate is true, model '{model.Name}')", 0, model.Name)
            : ValueTask.FromResult(SizeBytes(model, "parameters:size_mb"));
    }

    /// <inheritdoc />
    public async Task<IModelInstance> LoadAsync(ModelDescriptor model, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        progress?.Report(0);
        var loading = Interlocked.Increment(ref _loading);
        for (var peak = Volatile.Read(ref _peakLoading); loading > peak; peak = Volatile.Read(ref _peakLoading))
        {
            Interlocked.CompareExchange(ref _peakLoading, loading, peak);
        }

        try
        {
            if (model.GetInt32("parameters:load_delay_ms") is > 0 and var delay)
            {
                // ignore_cancellation simulates a native load that cannot be interrupted.
                var honour = model.GetBoolean("parameters:ignore_cancellation") != true;
                await Task.Delay(delay, honour ? cancellationToken : CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _loading);
        }

        // unavailable: a remote that answered at its first load and is gone afterwards.
        if (model.GetBoolean("parameters:unavailable") == true && _loadsByModel.GetValueOrDefault(model.Name) > 0)
        {
            throw new InvalidOperationException($"fake model '{model.Name}' is unreachable (parameters.unavailable is true)");
        }

        if (model.GetBoolean("parameters:fail_load") == true)
        {
            throw new InvalidOperationException(model.GetSetting("parameters:fail_message") ?? $"fake load failure of '{model.Name}' (parameters.fail_load is true)");
        }

        var bytes = model.GetSetting("parameters:actual_size_mb") is not null ? SizeBytes(model, "parameters:actual_size_mb") : SizeBytes(model, "parameters:size_mb");
        if (_loadsByModel.GetValueOrDefault(model.Name) == 0)
        {
            bytes += SizeBytes(model, "parameters:first_load_extra_mb");
        }

        var instance = new FakeModelInstance(this, model, bytes);
        _loadsByModel.AddOrUpdate(model.Name, 1, (_, n) => n + 1);
        Interlocked.Increment(ref _loads);
        Interlocked.Increment(ref _liveInstances);
        Interlocked.Add(ref _liveBytes, bytes);
        progress?.Report(1);
        return instance;
    }

    internal void OnDisposed(long bytes, bool inUse)
    {
        Interlocked.Decrement(ref _liveInstances);
        Interlocked.Add(ref _liveBytes, -bytes);
        if (inUse)
        {
            Interlocked.Increment(ref _freedWhileInUse);
        }
    }

    internal void OnUseAfterUnload() => Interlocked.Increment(ref _useAfterUnload);

    private static long SizeBytes(ModelDescriptor model, string key) => (long)((model.GetDouble(key) ?? 0) * 1024 * 1024);
}
