using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ModelManager;

/// <summary>Type <c>huggingface</c> (alias <c>onnx</c>): checks the model folder in managed code, then loads it through ONNX Runtime GenAI, or, for an encoder folder, ONNX Runtime.</summary>
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

    public IReadOnlyCollection<string> SettingKeys { get; } = [.. OnnxGenAIModelSettings.Keys, .. OnnxEncoderSettings.Keys];

    public void Validate(ModelDescriptor model, ModelValidationContext context)
    {
        if (OnnxEncoderFolder.IsEncoderFolder(model.Path))
        {
            OnnxEncoderSettings.Validate(model, context);
            return;
        }

        OnnxGenAIModelSettings.Validate(model, context);
    }

    /// <summary>An encoder folder (<c>model.onnx</c> and a vocabulary, no <c>genai_config.json</c>) serves embeddings only; any other folder chat.</summary>
    public ModelCapabilities DetectCapabilities(ModelDescriptor model) =>
        OnnxEncoderFolder.IsEncoderFolder(model.Path) ? ModelCapabilities.Embeddings : ModelCapabilities.Chat;

    public ValueTask<long> EstimateBytesAsync(ModelDescriptor model, CancellationToken cancellationToken)
    {
        if (OnnxEncoderFolder.IsEncoderFolder(model.Path))
        {
            var encoder = OnnxEncoderFolder.Read(model);
            var encoderSettings = OnnxEncoderSettings.From(model, encoder);
            return ValueTask.FromResult(OnnxEncoderModel.Estimate(encoder, encoderSettings.ContextLength, encoderSettings.BatchSize, encoderSettings.BatchTokens));
        }

        var folder = OnnxModelFolder.Read(model);
        var settings = OnnxGenAIModelSettings.From(model, folder, _options);
        return ValueTask.FromResult(Estimate(folder, settings));
    }

    public async Task<IModelInstance> LoadAsync(ModelDescriptor model, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        if (OnnxEncoderFolder.IsEncoderFolder(model.Path))
        {
            return await LoadEncoderAsync(model, progress, cancellationToken).ConfigureAwait(false);
        }

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

    private async Task<IModelInstance> LoadEncoderAsync(ModelDescriptor model, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        var folder = OnnxEncoderFolder.Read(model);
        var settings = OnnxEncoderSettings.From(model, folder);
        progress?.Report(0.05);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed), this);
        await OgaRuntime.LoadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            var instance = await Task.Run(() => OnnxEncoderModel.Load(model, folder, settings.ContextLength, settings.BatchSize, settings.BatchTokens, settings.Threads, _logger), CancellationToken.None)
                .ConfigureAwait(false);
            progress?.Report(1);
            return instance;
        }
        finally
        {
            OgaRuntime.LoadGate.Release();
        }
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
