using LLama;
using LLama.Common;
using LLama.Exceptions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ModelManager;

/// <summary>Type <c>gguf</c>: validates the file in managed code, then loads it through LLamaSharp.</summary>
/// <remarks>Thread-safe; models load concurrently. Every file passes <see cref="GgufReader"/> before llama.cpp sees it.</remarks>
internal sealed class LlamaSharpBackend : IModelBackend, IModelInspector
{
    private readonly LlamaSharpOptions _options;
    private readonly ILogger _logger;

    public LlamaSharpBackend(IOptions<LlamaSharpOptions>? options = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options?.Value ?? new LlamaSharpOptions();
        var factory = loggerFactory ?? NullLoggerFactory.Instance;
        _logger = factory.CreateLogger("ModelManager.LlamaSharp");
        if (_options.RouteNativeLog)
        {
            LlamaSharpNativeLog.Route(factory.CreateLogger("ModelManager.LlamaSharp.Native"), _options.NativeLogLevel);
        }
    }

    public IReadOnlyList<string> Types { get; } = ["gguf"];

    public IReadOnlyCollection<string> SettingKeys { get; } = LlamaSharpModelSettings.Keys;

    public void Validate(ModelDescriptor model, ModelValidationContext context)
    {
        LlamaSharpModelSettings.Validate(model, context);
        if (NativeLibraryProblem.Value is { } problem)
        {
            context.AddError(model, "type", problem);
        }
    }

    /// <summary>Why llama.cpp's native library cannot be loaded (no LLamaSharp.Backend.* package in the app, say), or null; probed once per process, at validation, before any model needs it.</summary>
    internal static Lazy<string?> NativeLibraryProblem { get; } = new(() => DescribeNativeProblem(static () => LLama.Native.NativeApi.llama_max_devices()));

    /// <summary>Runs <paramref name="probe"/> (a call into llama.cpp) and turns a failure to load the library into a message naming the packages to add.</summary>
    internal static string? DescribeNativeProblem(Func<long> probe)
    {
        try
        {
            probe();
            return null;
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException or RuntimeError)
        {
            var cause = e;
            while (cause.InnerException is not null)
            {
                cause = cause.InnerException;
            }

            return "gguf models need llama.cpp's native library, which LLamaSharp could not load " +
                $"({cause.GetType().Name}: {cause.Message.Trim()}); add one LLamaSharp backend package to the app: " +
                "LLamaSharp.Backend.Cpu (any CPU), LLamaSharp.Backend.Cuda12 (NVIDIA, CUDA 12) or LLamaSharp.Backend.Vulkan, of the same version as LLamaSharp";
        }
    }

    public ValueTask<long> EstimateBytesAsync(ModelDescriptor model, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Estimate(model).TotalBytes);

    public MemoryEstimate Estimate(ModelDescriptor model)
    {
        var info = ReadHeader(model);
        var settings = LlamaSharpModelSettings.From(model, info, _options);
        var estimate = GgufMemoryEstimator.EstimateParts(info, settings.ContextLength, settings.Parallel, settings.FlashAttentionOn);
        return model.Capabilities.HasFlag(ModelCapabilities.Embeddings)
            ? new MemoryEstimate([.. estimate.Parts, new MemoryEstimatePart("embedding context", LlamaSharpEmbedder.ContextBytes(info, settings), "a second, one-sequence context for embeddings")])
            : estimate;
    }

    public ModelInspection Inspect(ModelDescriptor model)
    {
        var info = ReadHeader(model);
        var toolFormat = ToolCallFormat.Detect(info.ChatTemplate, "", "").Name;
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        string Count(long value) => value.ToString(inv);
        var facts = new List<KeyValuePair<string, string>>
        {
            new("file", info.FilePath),
            new("file_bytes", Count(info.FileSize)),
            new("architecture", info.Architecture),
        };
        if (info.Name.Length > 0)
        {
            facts.Add(new("name", info.Name));
        }

        facts.AddRange(
        [
            new("block_count", Count(info.BlockCount)),
            new("embedding_length", Count(info.EmbeddingLength)),
            new("feed_forward_length", Count(info.FeedForwardLength)),
            new("head_count", Count(info.HeadCount)),
            new("head_count_kv", Count(info.HeadCountKv)),
            new("context_length", Count(info.ContextLength)),
            new("vocab_size", Count(info.VocabSize)),
            new("tokenizer", info.TokenizerModel.Length > 0 ? info.TokenizerModel : "unknown"),
            new("merges", Count(info.MergeCount)),
            new("bos_token_id", info.BosTokenId is { } bos ? Count(bos) : "none"),
            new("eos_token_id", info.EosTokenId is { } eos ? Count(eos) : "none"),
            new("tensor_count", Count(info.TensorCount)),
            new("tensor_bytes", Count(info.TensorBytes)),
            new("chat_template", info.ChatTemplate is null ? "no" : "yes"),
            new("tool_template", toolFormat == GenericToolCallFormat.FormatName ? "no" : "yes"),
            new("tool_call_format", toolFormat),
            new("embedding_model", LlamaSharpEmbedder.IsEmbeddingModel(info) ? "yes" : "no"),
        ]);
        return new ModelInspection($"GGUF v{info.Version}", facts, GgufMemoryEstimator.WeightsByType(info));
    }

    /// <summary>An embedding GGUF (a pooling type, an encoder architecture) serves embeddings; any other chat (set <c>capabilities</c> to embed with it too).</summary>
    public ModelCapabilities DetectCapabilities(ModelDescriptor model)
    {
        try
        {
            return model.Path is not null && File.Exists(model.Path) && LlamaSharpEmbedder.IsEmbeddingModel(ReadHeader(model))
                ? ModelCapabilities.Embeddings
                : ModelCapabilities.Chat;
        }
        catch (Exception e) when (e is ModelLoadException or IOException or UnauthorizedAccessException or UnreadableFileException)
        {
            return ModelCapabilities.Chat; // the load reports what is wrong with the file
        }
    }

    public async Task<IModelInstance> LoadAsync(ModelDescriptor model, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        // The managed reader is the gate: llama.cpp aborts the process on some malformed files.
        var info = ReadHeader(model);
        var settings = LlamaSharpModelSettings.From(model, info, _options);
        var parameters = new ModelParams(model.Path!)
        {
            ContextSize = checked((uint)(settings.ContextLength * settings.Parallel)),
            SeqMax = (uint)settings.Parallel,
            GpuLayerCount = settings.GpuLayers,
            LoadMode = settings.LoadMode,
            // The micro-batch the estimate assumes; a logical batch of the same size never splits.
            BatchSize = GgufMemoryEstimator.MicroBatch,
            UBatchSize = GgufMemoryEstimator.MicroBatch,
            FlashAttention = settings.FlashAttention,
        };
        ApplyThreads(parameters, settings.Threads);

        LLamaWeights weights;
        var placement = WeightPlacement.Begin(settings, info, _logger, model.Name);
        try
        {
            // Reported inline, not through Progress<T>, which posts to the thread pool and can reorder reports after Loaded.
            var native = progress is null ? null : new InlineProgress(progress);
            weights = await LLamaWeights.LoadFromFileAsync(parameters, cancellationToken, native).ConfigureAwait(false);
        }
        catch (LoadWeightsFailedException e)
        {
            throw new ModelFormatException(model.Path!, $"llama.cpp could not load the model: {e.Message}", modelName: model.Name, innerException: e);
        }

        var afterLoad = placement is null ? null : WeightPlacement.AfterLoad(_logger, model.Name);

        try
        {
            var chat = LlamaSharpModel.Create(model, info, settings, weights, parameters, _logger);
            if (placement is not null && afterLoad is not null)
            {
                // Off the load path, the search and the copy: the model serves on 4 KB pages until the copy is done.
                _ = Task.Run(() => chat.Placement = new MemoryPlacement(placement.Place(afterLoad, weights, () => !chat.IsDisposed, _logger, model.Name)));
            }

            IModelInstance instance = chat;
            if (model.Capabilities.HasFlag(ModelCapabilities.Embeddings))
            {
                instance = await WithEmbedderAsync(model, info, settings, weights, instance).ConfigureAwait(false);
            }

            progress?.Report(1);
            return instance;
        }
        catch
        {
            weights.Dispose();
            throw;
        }
    }

    /// <summary>The configured <c>threads</c> for every decode, else llama.cpp's default for single tokens and every core for batches.</summary>
    internal static void ApplyThreads(ModelParams parameters, int? threads)
    {
        if (threads is { } n)
        {
            parameters.Threads = n;
            parameters.BatchThreads = n;
        }
        else
        {
            // Batched steps (prompts, and every step with several concurrent requests) decode more than one token:
            // give them every core. LLamaSharp's default, half the logical cores, left 8 batched agents at 1.8x one agent
            // on 2 cores instead of 3x (see README, Benchmarks).
            parameters.BatchThreads = Math.Max(1, Environment.ProcessorCount);
        }
    }

    private static async Task<IModelInstance> WithEmbedderAsync(ModelDescriptor model, GgufModelInfo info, LlamaSharpModelSettings settings, LLamaWeights weights, IModelInstance chat)
    {
        try
        {
            return new LlamaSharpEmbeddingModel(chat, LlamaSharpEmbedder.Create(model, info, settings, weights), LlamaSharpEmbedder.ContextBytes(info, settings));
        }
        catch
        {
            await chat.DisposeAsync().ConfigureAwait(false); // it owns the weights now
            throw;
        }
    }

    private sealed class InlineProgress(IProgress<double> target) : IProgress<float>
    {
        public void Report(float value) => target.Report(value * 0.95);
    }

    // The estimate and the load that follows read the same header; parse it once per file version (path, length, write time).
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (long Length, DateTime WrittenUtc, GgufModelInfo Info)> _headers =
        new(StringComparer.Ordinal);

    private GgufModelInfo ReadHeader(ModelDescriptor model)
    {
        if (model.Path is { } path && File.Exists(path))
        {
            var file = new FileInfo(path);
            if (_headers.TryGetValue(path, out var cached) && cached.Length == file.Length && cached.WrittenUtc == file.LastWriteTimeUtc)
            {
                return cached.Info;
            }

            var info = ParseHeader(model);
            _headers[path] = (file.Length, file.LastWriteTimeUtc, info);
            return info;
        }

        return ParseHeader(model);
    }

    private static GgufModelInfo ParseHeader(ModelDescriptor model)
    {
        if (string.IsNullOrWhiteSpace(model.Path))
        {
            throw new ModelFormatException("", $"model '{model.Name}' has no path", modelName: model.Name);
        }

        // Before anything opens it: a FIFO would block the open, a device would never end.
        var kind = GuardedFile.GetKind(model.Path);
        if (kind == FileKind.Missing)
        {
            throw new ModelFormatException(model.Path, $"file not found (model '{model.Name}')", modelName: model.Name);
        }

        if (kind != FileKind.Regular)
        {
            throw new ModelFormatException(model.Path, $"is {GuardedFile.Describe(kind)}, not a regular file (model '{model.Name}')", modelName: model.Name,
                innerException: new UnreadableFileException(model.Path, kind, $"{model.Path}: is {GuardedFile.Describe(kind)}"));
        }

        try
        {
            return GgufReader.Read(model.Path);
        }
        catch (ModelFormatException e) when (e.ModelName.Length == 0)
        {
            throw new ModelFormatException(e.FilePath, $"{StripPath(e)} (model '{model.Name}')", e.Offset, model.Name, e.InnerException);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelFormatException(model.Path, $"cannot be read: {e.Message} (model '{model.Name}')", modelName: model.Name, innerException: e);
        }

        static string StripPath(ModelFormatException e)
        {
            var message = e.Message.StartsWith(e.FilePath + ": ", StringComparison.Ordinal) ? e.Message[(e.FilePath.Length + 2)..] : e.Message;
            var at = message.LastIndexOf(" (at offset ", StringComparison.Ordinal);
            return at >= 0 ? message[..at] : message;
        }
    }
}
