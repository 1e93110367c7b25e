using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ModelManager;

/// <summary>Type <c>huggingface</c> (alias <c>onnx</c>): checks the model folder in managed code, then loads it through ONNX Runtime GenAI.</summary>
/// <remarks>
/// Thread-safe. Estimates and folder checks run concurrently; native loads are serialised process-wide so that the memory
/// growth measured around each belongs to it. The backend holds a reference on the process-wide runtime from its first
/// load until it is disposed (at shutdown), so evicting the last model does not restart ONNX Runtime.
/// </remarks>
internal sealed class OnnxGenAIBackend : IModelBackend, IDisposable
{
    private readonly OnnxGenAIOptions _options;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private IDisposable? _runtime;
    private bool _disposed;

    public OnnxGenAIBackend(IOptions<OnnxGenAIOptions>? options = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options?.Value ?? new OnnxGenAIOptions();
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ModelManager.OnnxGenAI");
    }

    public IReadOnlyList<string> Types { get; } = ["huggingface", "onnx"];

    public IReadOnlyCollection<string> SettingKeys { get; } = OnnxGenAIModelSettings.Keys;

    public void Validate(ModelDescriptor model, ModelValidationContext context) => OnnxGenAIModelSettings.Validate(model, context);

    public ValueTask<long> EstimateBytesAsync(ModelDescriptor model, CancellationToken cancellationToken)
    {
        var folder = OnnxModelFolder.Read(model);
        var settings = OnnxGenAIModelSettings.From(model, folder, _options);
        return ValueTask.FromResult(Estimate(folder, settings));
    }

    public async Task<IModelInstance> LoadAsync(ModelDescriptor model, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        // The managed checks are the gate: ONNX Runtime sees only folders whose files exist and whose config parses.
        var folder = OnnxModelFolder.Read(model);
        var settings = OnnxGenAIModelSettings.From(model, folder, _options);
        progress?.Report(0.05);
        HoldRuntime();

        await OgaRuntime.LoadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        OnnxGenAIModel instance;
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            instance = await Task.Run(() => OnnxGenAIModel.Load(model, folder, settings, _logger), CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            OgaRuntime.LoadGate.Release();
        }

        progress?.Report(1);
        return instance;
    }

    /// <summary>Releases the backend's reference on the runtime; it shuts down once every model is gone too.</summary>
    public void Dispose()
    {
        IDisposable? runtime;
        lock (_gate)
        {
            _disposed = true;
            runtime = _runtime;
            _runtime = null;
        }

        runtime?.Dispose();
    }

    /// <summary>ONNX files plus the KV cache of <c>parallel</c> sequences of the context length.</summary>
    internal static long Estimate(OnnxModelFolder folder, OnnxGenAIModelSettings settings) =>
        folder.OnnxBytes + (folder.KvCacheBytes(settings.ContextLength) * settings.Parallel);

    private void HoldRuntime()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _runtime ??= OgaRuntime.Acquire();
        }
    }
}
