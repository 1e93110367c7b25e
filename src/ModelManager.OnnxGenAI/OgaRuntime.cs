using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager;

/// <summary>Owns the process-wide <see cref="OgaHandle"/>: created before the first native object, disposed after the last.</summary>
/// <remarks>
/// Thread-safe. ONNX Runtime GenAI requires every Model, Tokenizer and Generator to be destroyed before <c>OgaShutdown</c>
/// (which disposing the handle calls); a shutdown with live objects is undefined behaviour. So the handle is reference
/// counted across the whole process: each backend that has loaded a model holds one reference until it is disposed, and
/// each loaded model holds one until its last native object is gone. The last release shuts the runtime down; the next
/// acquire starts it again.
/// </remarks>
internal static class OgaRuntime
{
    private static readonly Lock Gate = new();
    private static OgaHandle? _handle;
    private static int _references;
    private static int _starts;

    /// <summary>Serialises native model loads process-wide, so the memory growth measured around one load belongs to it.</summary>
    public static SemaphoreSlim LoadGate { get; } = new(1, 1);

    /// <summary>Live references: backends that have loaded something, plus loaded models.</summary>
    public static int References
    {
        get
        {
            lock (Gate)
            {
                return _references;
            }
        }
    }

    /// <summary>True while the handle exists.</summary>
    public static bool IsRunning
    {
        get
        {
            lock (Gate)
            {
                return _handle is not null;
            }
        }
    }

    /// <summary>How many times the handle has been created in this process.</summary>
    public static int Starts => Volatile.Read(ref _starts);

    /// <summary>Takes a reference, creating the handle if none exists; dispose the result exactly once to release it.</summary>
    public static IDisposable Acquire()
    {
        lock (Gate)
        {
            if (_handle is null)
            {
                _handle = new OgaHandle();
                _starts++;
            }

            _references++;
        }

        return new Reference();
    }

    private static void Release()
    {
        lock (Gate)
        {
            if (--_references == 0)
            {
                // Under the lock: a concurrent Acquire must not see the old handle while it shuts down.
                _handle?.Dispose();
                _handle = null;
            }
        }
    }

    private sealed class Reference : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                Release();
            }
        }
    }
}
