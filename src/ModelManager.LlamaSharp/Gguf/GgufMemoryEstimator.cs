namespace ModelManager;

/// <summary>Estimates the resident memory one GGUF model costs in llama.cpp (LLamaSharp 0.30.0) on the CPU.</summary>
/// <remarks>
/// <para>
/// The estimate is weights + KV cache + the compute memory a prompt touches + bookkeeping, calibrated
/// against llama.cpp's own buffer reports and the process's RSS growth (load with LoadMode None, one
/// context, a full-batch prompt, a few generated tokens). Each term follows llama.cpp commit 815a2a59:
/// </para>
/// <list type="bullet">
/// <item>Weights: the tensor bytes. Read into memory (LoadMode None) or mapped and touched, they are resident either way.</item>
/// <item>KV cache: n_kv × layers × kv-heads × (key + value width) × 2 bytes (f16), n_kv = the total context padded to 256.</item>
/// <item>
/// Compute: llama.cpp reserves the worst case of a full ubatch (T = min(512, n_ctx) tokens) with logits for every token,
/// but the allocator's peak for a batch with one output per sequence is what gets touched, and that is
/// max(4T·(3·ff + 4·embd) + 2·n_kv·T [a layer: gate, up and their product, four embd-wide activations, the f16 mask],
///     4T·2·embd + 4·vocab·sequences [the output layer]).
/// The all-logits reserve (4·vocab·T, 293 MiB for a 150K vocabulary) is address space the CPU backend never touches while generating.
/// With flash attention off (<c>flash_attention</c> off), a layer also holds the attention scores and their softmax, f32
/// for every head, token and cell: 2 · 4·n_kv·T·heads (measured at n_kv 4096, T 512: 45–101 MiB of growth against 64–128 MiB).
/// </item>
/// <item>Output buffer: 4·vocab·sequences (the logits llama_context keeps).</item>
/// <item>
/// Bookkeeping: ~300 bytes per token and per BPE merge (the vocabulary's strings, maps and piece cache, plus what the loader
/// frees but the C heap keeps), ~12 KiB per tensor (the loader's and the scheduler's graph metadata, which grows with
/// the node count), and <see cref="FixedOverhead"/>.
/// </item>
/// </list>
/// <para>
/// Measured on synthetic llama models (F32, FA auto = on, ctx 512): estimates are within 5% of RSS growth from 1 MB
/// to 300 MB of weights, and over by at most ~15% for vocabulary- or layer-heavy toy shapes. Dense transformers only:
/// MoE, recurrent and sliding-window caches are not modelled (MoE weights are counted, their activations are not).
/// Stateless and thread-safe.
/// </para>
/// </remarks>
internal static class GgufMemoryEstimator
{
    /// <summary>Per-model memory the other terms miss: llama_model/llama_context structures, ggml contexts, scheduler tables, thread stacks.</summary>
    /// <remarks>Measured as 0.5–2 MiB; process-wide one-time costs (native code pages, ggml's fp16 tables, ~5 MiB) are excluded.</remarks>
    public const long FixedOverhead = 2L * 1024 * 1024;

    /// <summary>llama.cpp's default (and LLamaSharp's) micro-batch size.</summary>
    public const int MicroBatch = 512;

    /// <summary>Resident bytes per vocabulary entry or BPE merge.</summary>
    public const long BytesPerToken = 300;

    /// <summary>Resident bytes per tensor for the loader's and the graph scheduler's metadata.</summary>
    public const long BytesPerTensor = 12 * 1024;

    /// <summary>Estimates the bytes a model costs when loaded with <paramref name="parallel"/> sequences of <paramref name="contextLength"/> tokens each.</summary>
    /// <param name="info">The model, as read by <see cref="GgufReader"/>.</param>
    /// <param name="contextLength">Tokens per sequence; 0 or less means the model's training context.</param>
    /// <param name="parallel">Sequences sharing the context (llama.cpp's n_seq_max); less than 1 means 1.</param>
    /// <param name="flashAttention">False when llama.cpp's flash attention is off, which materialises the attention scores.</param>
    internal static long Estimate(GgufModelInfo info, int contextLength, int parallel, bool flashAttention = true) => EstimateParts(info, contextLength, parallel, flashAttention).TotalBytes;

    /// <summary>The same estimate term by term: weights by element type, KV cache, compute, logits, bookkeeping.</summary>
    internal static MemoryEstimate EstimateParts(GgufModelInfo info, int contextLength, int parallel, bool flashAttention = true)
    {
        ArgumentNullException.ThrowIfNull(info);
        double sequences = Math.Max(parallel, 1);
        double perSequence = contextLength > 0 ? contextLength
            : info.ContextLength > 0 ? info.ContextLength
            : LlamaSharpModelSettings.DefaultContextLength;
        double nCtx = perSequence * sequences;

        // Metadata values are validated as non-negative but may be huge; doubles cannot overflow here.
        double nKv = Math.Ceiling(nCtx / 256) * 256;
        double kv = nKv * info.BlockCount * info.HeadCountKv * ((double)info.KeyLength + info.ValueLength) * 2;

        double tokens = Math.Min(MicroBatch, nCtx);
        double embd = info.EmbeddingLength;
        double ff = info.FeedForwardLength > 0 ? info.FeedForwardLength : 4 * embd;
        double layer = (4 * tokens * ((3 * ff) + (4 * embd))) + (2 * nKv * (Math.Ceiling(tokens / 64) * 64));
        double scores = flashAttention ? 0 : 2 * 4 * nKv * tokens * info.HeadCount;
        layer += scores;
        double output = (4 * tokens * 2 * embd) + (4 * (double)info.VocabSize * sequences);
        double compute = Math.Max(layer, output);
        double logits = 4 * (double)info.VocabSize * sequences;

        double bookkeeping = (((double)info.VocabSize + info.MergeCount) * BytesPerToken)
            + (info.TensorCount * (double)BytesPerTensor)
            + FixedOverhead;

        var parts = new List<MemoryEstimatePart>();
        foreach (var group in WeightsByType(info))
        {
            parts.Add(new MemoryEstimatePart($"weights ({group.Name})", group.Bytes, $"{group.Count} tensor{(group.Count == 1 ? "" : "s")}"));
        }

        var inv = System.Globalization.CultureInfo.InvariantCulture;
        parts.Add(new MemoryEstimatePart("kv cache", Bytes(kv),
            string.Create(inv, $"{nKv} cells ({sequences} × {perSequence} tokens, padded to 256) × {info.BlockCount} layers × {info.HeadCountKv} kv heads × ({info.KeyLength} + {info.ValueLength}) × f16")));
        parts.Add(new MemoryEstimatePart("compute", Bytes(compute),
            string.Create(inv, $"peak of one {tokens}-token micro-batch: {(layer >= output ? "a layer's activations" : "the output layer")}{(scores > 0 ? $", with {nKv} × {tokens} × {info.HeadCount} heads of f32 attention scores and their softmax (flash attention off)" : "")}")));
        parts.Add(new MemoryEstimatePart("logits", Bytes(logits), string.Create(inv, $"{info.VocabSize} × {sequences} sequence{(sequences == 1 ? "" : "s")} × f32")));
        parts.Add(new MemoryEstimatePart("overhead", Bytes(bookkeeping),
            string.Create(inv, $"vocabulary and merges ({info.VocabSize + info.MergeCount} × {BytesPerToken} B), tensor metadata ({info.TensorCount} × {BytesPerTensor / 1024} KiB), {FixedOverhead >> 20} MiB fixed")));
        return new MemoryEstimate(parts);
    }

    /// <summary>The tensor bytes grouped by element type, largest first.</summary>
    internal static IReadOnlyList<WeightGroup> WeightsByType(GgufModelInfo info) =>
        [.. info.Tensors.GroupBy(t => t.Type)
            .Select(g => new WeightGroup(g.Key.ToString(), g.Count(), g.Sum(t => t.ByteSize)))
            .OrderByDescending(g => g.Bytes).ThenBy(g => g.Name, StringComparer.Ordinal)];

    private static long Bytes(double value) => value >= long.MaxValue ? long.MaxValue : (long)value;
}
