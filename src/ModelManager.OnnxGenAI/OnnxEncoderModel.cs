using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace ModelManager;

/// <summary>One loaded ONNX encoder (a sentence-transformers export): WordPiece, padded batches, mean pooling over the attention mask, L2 normalisation.</summary>
/// <remarks>
/// Thread-safe: calls run one batch at a time (texts of similar length, up to <c>batch_size</c> texts and <c>batch_tokens</c>
/// padded tokens; ONNX Runtime's intra-op threads already use every core), in arrival order. A text is cut to <c>context_length</c> word pieces, <c>[CLS]</c> and <c>[SEP]</c> included; invalid UTF-16 (a lone
/// surrogate) becomes U+FFFD before tokenizing; the empty text embeds as <c>[CLS] [SEP]</c>. The manager disposes the
/// instance only when no call is in flight.
/// </remarks>
// The state, the estimate and the lifetime; loading (.Load) and embedding (.Embedding) are the other parts.
internal sealed partial class OnnxEncoderModel : IModelInstance, IEmbeddingModelInstance
{
    /// <summary>The default of <c>batch_size</c>: the most texts per ONNX Runtime run.</summary>
    public const int DefaultBatchSize = 64;

    /// <summary>The default of <c>batch_tokens</c>: the most padded tokens (texts × the longest one) per run; 16 texts of 256 tokens.</summary>
    public const int DefaultBatchTokens = 4096;

    /// <summary>The highest <c>batch_size</c> accepted.</summary>
    public const int MaxBatchSize = 1024;

    private const string InputIds = "input_ids", AttentionMask = "attention_mask", TokenTypeIds = "token_type_ids";

    private readonly ModelDescriptor _model;
    private readonly InferenceSession _session;
    private readonly BertTokenizer _tokenizer;
    private readonly string _output;
    private readonly bool _hasTokenTypes;
    private readonly int _contextLength;
    private readonly int _batchSize;
    private readonly int _batchTokens;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _disposed;

    private OnnxEncoderModel(ModelDescriptor model, InferenceSession session, BertTokenizer tokenizer, string output, bool hasTokenTypes, int dimensions,
        int contextLength, int batchSize, int batchTokens, long memoryBytes)
    {
        _model = model;
        _session = session;
        _tokenizer = tokenizer;
        _output = output;
        _hasTokenTypes = hasTokenTypes;
        Dimensions = dimensions;
        _contextLength = contextLength;
        _batchSize = batchSize;
        _batchTokens = batchTokens;
        MemoryBytes = memoryBytes;
    }

    /// <summary>The process's measured growth across the session's creation, never below the ONNX files' size.</summary>
    public long MemoryBytes { get; }

    /// <summary>The hidden size: the last dimension of the token output.</summary>
    public int? Dimensions { get; }

    /// <summary>Word pieces per text, <c>[CLS]</c> and <c>[SEP]</c> included; longer texts are cut.</summary>
    internal int ContextLength => _contextLength;

    /// <summary>The most texts per ONNX Runtime run.</summary>
    internal int BatchSize => _batchSize;

    /// <summary>The padded tokens one run may hold at most: <c>batch_tokens</c>, at least one full-length text, at most <c>batch_size</c> of them.</summary>
    internal static long RunTokens(int contextLength, int batchSize, int batchTokens) =>
        Math.Min((long)batchSize * contextLength, Math.Max(batchTokens, contextLength));

    /// <summary>ONNX Runtime's copy of the files: 1.5 × their bytes (see <see cref="Estimate"/>).</summary>
    public static long SessionBytes(OnnxEncoderFolder folder) => folder.OnnxBytes * 3 / 2;

    /// <summary>The bytes a load reserves: ONNX Runtime's copy of the ONNX files, plus the activations of one full batch.</summary>
    /// <remarks>
    /// The session: 1.5 × the files (all-MiniLM-L6-v2's 86.7 MB of files grew a bare process by 98–101 MB, and by 127 MB in
    /// the AgentHost sample, with llama.cpp loaded beside it).
    /// Activations of the largest run (<see cref="RunTokens"/> padded tokens): tokens × (18 KiB + context × 72 B), the
    /// hidden-state buffers plus the attention scores, which grow with the sequence. Calibrated on all-MiniLM-L6-v2 (resident growth of ONNX Runtime's arena after one run:
    /// 49 MB for 32 × 64 tokens, 302 MB for 32 × 256, 606 MB for 64 × 256; the formula gives 47, 302 and 604 MB).
    /// </remarks>
    public static long Estimate(OnnxEncoderFolder folder, int contextLength, int batchSize, int batchTokens) =>
        SessionBytes(folder) + ActivationBytes(contextLength, batchSize, batchTokens);

    /// <summary>The activations of one full batch (see <see cref="Estimate"/>).</summary>
    public static long ActivationBytes(int contextLength, int batchSize, int batchTokens) =>
        RunTokens(contextLength, batchSize, batchTokens) * ((18L << 10) + ((long)contextLength * 72));

    public IAsyncEnumerable<GenerationUpdate> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken) =>
        NotChat();

    public IAsyncEnumerable<GenerationUpdate> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, CancellationToken cancellationToken) =>
        NotChat();

    private async IAsyncEnumerable<GenerationUpdate> NotChat()
    {
        await Task.CompletedTask.ConfigureAwait(false);
        throw new NotSupportedException($"Model '{_model.Name}' is an ONNX encoder: it serves embeddings only, not chat or completions.");
#pragma warning disable CS0162 // an iterator needs a yield to be one
        yield break;
#pragma warning restore CS0162
    }

    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null || serviceType is null ? null
        : serviceType == typeof(InferenceSession) ? _session
        : serviceType == typeof(BertTokenizer) ? _tokenizer
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _session.Dispose();
            _gate.Dispose();
        }

        return ValueTask.CompletedTask;
    }
}
