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
internal sealed class OnnxGenAIBackend : IModelBackend, IModelInspector, IDisposable
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

    public ValueTask<long> EstimateBytesAsync(ModelDescriptor model, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Estimate(model).TotalBytes);

    public MemoryEstimate Estimate(ModelDescriptor model)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (OnnxEncoderFolder.IsEncoderFolder(model.Path))
        {
            var encoder = OnnxEncoderFolder.Read(model);
            var encoderSettings = OnnxEncoderSettings.From(model, encoder);
            var session = OnnxEncoderModel.SessionBytes(encoder);
            return new MemoryEstimate(
            [
                new MemoryEstimatePart("session", session, string.Create(inv, $"1.5 × the {encoder.Files.Count} ONNX file{(encoder.Files.Count == 1 ? "" : "s")} ({encoder.OnnxBytes} bytes)")),
                new MemoryEstimatePart("activations", OnnxEncoderModel.ActivationBytes(encoderSettings.ContextLength, encoderSettings.BatchSize, encoderSettings.BatchTokens),
                    string.Create(inv, $"one batch of {OnnxEncoderModel.RunTokens(encoderSettings.ContextLength, encoderSettings.BatchSize, encoderSettings.BatchTokens)} tokens at context {encoderSettings.ContextLength}")),
            ]);
        }

        var folder = OnnxModelFolder.Read(model);
        return Estimate(folder, OnnxGenAIModelSettings.From(model, folder, _options));
    }

    /// <summary>The ONNX files plus the KV cache of <c>parallel</c> sequences of the context length.</summary>
    internal static MemoryEstimate Estimate(OnnxModelFolder folder, OnnxGenAIModelSettings settings)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        return new MemoryEstimate(
        [
            .. folder.Files.Select(f => new MemoryEstimatePart($"weights ({Path.GetFileName(f.Path)})", f.Bytes)),
            new MemoryEstimatePart("kv cache", folder.KvCacheBytes(settings.ContextLength) * settings.Parallel,
                string.Create(inv, $"{settings.Parallel} × {settings.ContextLength} tokens × {folder.Layers} layers × {folder.KeyValueHeads} kv heads × {folder.HeadSize} × 2 × {folder.KvElementBytes} B")),
        ]);
    }

    public ModelInspection Inspect(ModelDescriptor model)
    {
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        if (OnnxEncoderFolder.IsEncoderFolder(model.Path))
        {
            var encoder = OnnxEncoderFolder.Read(model);
            return new ModelInspection("ONNX encoder folder",
            [
                new("folder", encoder.Directory),
                new("model_file", encoder.ModelPath),
                new("onnx_bytes", encoder.OnnxBytes.ToString(inv)),
                new("vocabulary", encoder.VocabularyPath),
                new("lower_case", encoder.LowerCase ? "yes" : "no"),
                new("max_sequence_length", encoder.MaxSequenceLength?.ToString(inv) ?? "unknown"),
                new("capabilities", "embeddings"),
            ], Weights(encoder.Files));
        }

        var folder = OnnxModelFolder.Read(model);
        return new ModelInspection("ONNX Runtime GenAI folder",
        [
            new("folder", folder.Directory),
            new("model_type", folder.ModelType),
            new("num_hidden_layers", folder.Layers.ToString(inv)),
            new("num_key_value_heads", folder.KeyValueHeads.ToString(inv)),
            new("head_size", folder.HeadSize.ToString(inv)),
            new("context_length", folder.ContextLength.ToString(inv)),
            new("vocab_size", folder.VocabSize.ToString(inv)),
            new("eos_token_id", folder.EosTokenIds.Count == 0 ? "none" : string.Join(", ", folder.EosTokenIds)),
            new("onnx_bytes", folder.OnnxBytes.ToString(inv)),
            new("kv_element_bytes", folder.KvElementBytes.ToString(inv)),
            new("chat_template", folder.HasChatTemplate() switch
            {
                true => "yes (tokenizer_config.json)",
                false => "no (the plain System:/User:/Assistant: format)",
                null => "unknown (tokenizer_config.json is not readable JSON)",
            }),
            new("capabilities", "chat"),
        ], Weights(folder.Files));

        static IReadOnlyList<WeightGroup> Weights(IReadOnlyList<OnnxFile> files) =>
            [.. files.Select(f => new WeightGroup(Path.GetFileName(f.Path), 1, f.Bytes)).OrderByDescending(g => g.Bytes)];
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

    private void HoldRuntime()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _runtime ??= OgaRuntime.Acquire();
        }
    }
}
