using LLama;
using LLama.Common;
using LLama.Native;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>Embeddings of a GGUF model through LLamaSharp's <see cref="LLamaEmbedder"/>, on a context of its own with embeddings on (created per call by LLamaSharp).</summary>
/// <remarks>
/// Thread-safe: calls run one text at a time (the embedder's context is single-sequence, and llama.cpp serialises decodes
/// process-wide anyway). Pooling is the GGUF's own (<c>{arch}.pooling_type</c>); a model without one (a causal LM) is
/// mean-pooled. Vectors are L2-normalised. A text longer than the embedding context is a
/// <see cref="ContextLengthExceededException"/>, never cut silently. Disposed with its model.
/// </remarks>
internal sealed class LlamaSharpEmbedder : IEmbeddingModelInstance, IDisposable
{
    /// <summary>The longest embedding context: embedding models are trained on 512 tokens or so, and the whole text is one batch.</summary>
    public const int MaxContextLength = 512;

    private readonly string _name;
    private readonly LLamaWeights _weights;
    private readonly LLamaEmbedder _embedder;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly int _contextLength;
    private int _disposed;

    private LlamaSharpEmbedder(string name, LLamaWeights weights, LLamaEmbedder embedder, int contextLength)
    {
        _name = name;
        _weights = weights;
        _embedder = embedder;
        _contextLength = contextLength;
        Dimensions = embedder.EmbeddingSize;
    }

    public int? Dimensions { get; }

    /// <summary>The embedding context: the model's <c>context_length</c>, at most <see cref="MaxContextLength"/>.</summary>
    public static int ContextLength(LlamaSharpModelSettings settings) => Math.Min(settings.ContextLength, MaxContextLength);

    /// <summary>The bytes the embedding context adds to the model: its KV cache and compute buffers, sized as the chat context's are.</summary>
    public static long ContextBytes(GgufModelInfo info, LlamaSharpModelSettings settings) =>
        GgufMemoryEstimator.Estimate(info, ContextLength(settings), 1, settings.FlashAttentionOn) - info.TensorBytes;

    /// <summary>True for GGUFs that are embedding models: a declared pooling type, or an encoder architecture.</summary>
    public static bool IsEmbeddingModel(GgufModelInfo info) =>
        info.Metadata.ContainsKey($"{info.Architecture}.pooling_type")
        || info.Architecture is "bert" or "nomic-bert" or "nomic-bert-moe" or "jina-bert-v2" or "jina-bert-v3" or "t5encoder" or "modern-bert" or "neo-bert";

    /// <summary>Creates the embedding context on <paramref name="weights"/>.</summary>
    /// <exception cref="ModelLoadException">llama.cpp could not create the context.</exception>
    public static LlamaSharpEmbedder Create(ModelDescriptor model, GgufModelInfo info, LlamaSharpModelSettings settings, LLamaWeights weights)
    {
        var context = ContextLength(settings);
        var parameters = new ModelParams(model.Path!)
        {
            ContextSize = (uint)context,
            BatchSize = (uint)context, // the whole text is one batch: non-causal models need it
            UBatchSize = (uint)context,
            SeqMax = 1,
            Embeddings = true,
            FlashAttention = settings.FlashAttention,
            PoolingType = info.Metadata.ContainsKey($"{info.Architecture}.pooling_type") ? LLamaPoolingType.Unspecified : LLamaPoolingType.Mean,
        };
        LlamaSharpBackend.ApplyThreads(parameters, settings.Threads);

        LLamaEmbedder embedder;
        try
        {
            embedder = new LLamaEmbedder(weights, parameters);
        }
        catch (Exception e) when (e is LLama.Exceptions.RuntimeError or InvalidOperationException)
        {
            throw new ModelLoadException(model.Name, $"llama.cpp could not create the embedding context of model '{model.Name}': {e.Message}", e);
        }

        // LLamaEmbedder creates its context for each call (and frees it after): the budget is charged for one all along.
        return new LlamaSharpEmbedder(model.Name, weights, embedder, context);
    }

    public async Task<GeneratedEmbeddings<Embedding<float>>> EmbedAsync(IReadOnlyList<string> values, int? dimensions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (dimensions is { } asked && asked != Dimensions)
        {
            throw new NotSupportedException(
                $"EmbeddingGenerationOptions.Dimensions = {asked} is not supported by model '{_name}': its vectors have a fixed {Dimensions} dimensions (omit Dimensions, or ask for {Dimensions}).");
        }

        var result = new GeneratedEmbeddings<Embedding<float>>(values.Count);
        long tokens = 0;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            foreach (var value in values)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // Refused by its size before tokenizing when it cannot fit (no token is shorter than one byte of UTF-8 text, most are longer than 1/16 of a character).
                if (value.Length > (long)_contextLength * 64)
                {
                    throw new ContextLengthExceededException(_name, _contextLength, null,
                        $"A text of {value.Length:N0} characters cannot fit the {_contextLength}-token embedding context of model '{_name}'; split it first.");
                }

                var count = _weights.Tokenize(value, add_bos: true, special: false, System.Text.Encoding.UTF8).Length;
                if (count > _contextLength)
                {
                    throw new ContextLengthExceededException(_name, _contextLength, count,
                        $"A text of {count} tokens does not fit the {_contextLength}-token embedding context of model '{_name}'; split it first (gguf embeddings are never cut silently).");
                }

                var vectors = await _embedder.GetEmbeddings(value, cancellationToken).ConfigureAwait(false);
                result.Add(new Embedding<float>(Normalize(vectors[0])));
                tokens += count;
            }
        }
        finally
        {
            _gate.Release();
        }

        result.Usage = new UsageDetails { InputTokenCount = tokens, TotalTokenCount = tokens };
        return result;
    }

    private static float[] Normalize(float[] vector)
    {
        double squares = 0;
        foreach (var v in vector)
        {
            squares += (double)v * v;
        }

        var norm = Math.Sqrt(squares);
        if (norm > 1e-12)
        {
            for (var i = 0; i < vector.Length; i++)
            {
                vector[i] = (float)(vector[i] / norm);
            }
        }

        return vector;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _embedder.Dispose();
        }
    }
}
