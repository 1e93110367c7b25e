using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager;

/// <summary>One loaded ONNX Runtime GenAI model: a shared Model and Tokenizer, a Generator per request.</summary>
/// <remarks>
/// Thread-safe: up to <c>parallel</c> requests generate at once, each on one of the model's generation threads with its own Generator; others wait
/// for a slot. Native objects are reference counted: the Model and Tokenizer are destroyed, and the process-wide runtime
/// reference released, only when the model is disposed and its last generation has ended, so no Generator outlives them.
/// </remarks>
// The state and the native lifetime; loading (.Load), generation (.Generation) and chat formatting (.Chat) are the other parts.
internal sealed partial class OnnxGenAIModel : IModelInstance
{
    private readonly ModelDescriptor _model;
    private readonly OnnxModelFolder _folder;
    private readonly OnnxGenAIModelSettings _settings;
    private readonly Model _native;
    private readonly Tokenizer _tokenizer;
    private readonly IDisposable _runtime;
    private readonly SemaphoreSlim _slots;
    private readonly GenerationThreads _threads;
    private readonly HashSet<int> _eos;
    private readonly Lock _templateGate = new();
    private int _references = 1;
    private int _disposed;
    private int _running;
    private int _peakRunning;

    private OnnxGenAIModel(
        ModelDescriptor model, OnnxModelFolder folder, OnnxGenAIModelSettings settings, Model native, Tokenizer tokenizer,
        IDisposable runtime, OnnxChatFormat chatFormat, long memoryBytes)
    {
        _model = model;
        _folder = folder;
        _settings = settings;
        _native = native;
        _tokenizer = tokenizer;
        _runtime = runtime;
        _slots = new SemaphoreSlim(settings.Parallel, settings.Parallel);
        _threads = new GenerationThreads(model.Name, settings.Parallel);
        _eos = [.. folder.EosTokenIds];
        ChatFormat = chatFormat;
        MemoryBytes = memoryBytes;
    }

    /// <summary>The process's measured growth across the native load, never below the ONNX files' size.</summary>
    public long MemoryBytes { get; }

    /// <summary>How chat messages become a prompt.</summary>
    internal OnnxChatFormat ChatFormat { get; }

    /// <summary>Generations running now.</summary>
    internal int ActiveGenerations => _settings.Parallel - _slots.CurrentCount;

    /// <summary>The most generations that have run at once since the model loaded.</summary>
    internal int PeakGenerations => Volatile.Read(ref _peakRunning);

    /// <summary>The model's generation threads alive now: at most <c>parallel</c>, none once the model is released.</summary>
    internal int GenerationThreadCount => _threads.Count;

    /// <summary>True once the native objects have been destroyed.</summary>
    internal bool IsReleased => Volatile.Read(ref _references) == 0;

    /// <summary>The native <see cref="Model"/> or <see cref="Tokenizer"/> for those types; valid only while a lease pins the model.</summary>
    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null || serviceType is null ? null
        : serviceType == typeof(Model) ? _native
        : serviceType == typeof(Tokenizer) ? _tokenizer
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Exit();
        }

        return ValueTask.CompletedTask;
    }

    // Every use of the native objects runs between Enter and Exit; the last Exit (after DisposeAsync) destroys them.
    private void Enter()
    {
        while (true)
        {
            var current = Volatile.Read(ref _references);
            if (current == 0 || Volatile.Read(ref _disposed) != 0)
            {
                throw new ObjectDisposedException(nameof(OnnxGenAIModel), $"Model '{_model.Name}' has been unloaded.");
            }

            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
            {
                return;
            }
        }
    }

    private void Exit()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _tokenizer.Dispose();
            _native.Dispose();
            _runtime.Dispose();
            _threads.Complete();
        }
    }
}
