using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Tokenizers;

namespace ModelManager;

/// <summary>One loaded ONNX encoder (a sentence-transformers export): WordPiece, padded batches, mean pooling over the attention mask, L2 normalisation.</summary>
/// <remarks>
/// Thread-safe: calls run one batch (texts of similar length, up to <c>batch_size</c> texts and <c>batch_tokens</c> padded tokens) at a time (ONNX Runtime's intra-op threads already use every core), in arrival order.
/// A text is cut to <c>context_length</c> word pieces, <c>[CLS]</c> and <c>[SEP]</c> included; invalid UTF-16 (a lone
/// surrogate) becomes U+FFFD before tokenizing; the empty text embeds as <c>[CLS] [SEP]</c>. The manager disposes the
/// instance only when no call is in flight.
/// </remarks>
internal sealed class OnnxEncoderModel : IModelInstance, IEmbeddingModelInstance
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

    /// <summary>The bytes a load reserves: ONNX Runtime's copy of the ONNX files, plus the activations of one full batch.</summary>
    /// <remarks>
    /// The session: 1.5 × the files (all-MiniLM-L6-v2's 86.7 MB of files grew a bare process by 98–101 MB, and by 127 MB in
    /// the AgentHost sample, with llama.cpp loaded beside it).
    /// Activations of the largest run (<see cref="RunTokens"/> padded tokens): tokens × (18 KiB + context × 72 B), the
    /// hidden-state buffers plus the attention scores, which grow with the sequence. Calibrated on all-MiniLM-L6-v2 (resident growth of ONNX Runtime's arena after one run:
    /// 49 MB for 32 × 64 tokens, 302 MB for 32 × 256, 606 MB for 64 × 256; the formula gives 47, 302 and 604 MB).
    /// </remarks>
    public static long Estimate(OnnxEncoderFolder folder, int contextLength, int batchSize, int batchTokens) =>
        (folder.OnnxBytes * 3 / 2) + (RunTokens(contextLength, batchSize, batchTokens) * ((18L << 10) + ((long)contextLength * 72)));

    /// <summary>Creates the session and the tokenizer; the caller holds <see cref="OgaRuntime.LoadGate"/> so the measured growth is this load's.</summary>
    /// <exception cref="ModelFormatException">The ONNX file's inputs or outputs are not an encoder's; names the file.</exception>
    /// <exception cref="ModelLoadException">ONNX Runtime refused the file.</exception>
    public static OnnxEncoderModel Load(ModelDescriptor model, OnnxEncoderFolder folder, int contextLength, int batchSize, int batchTokens, int? threads, ILogger logger)
    {
        var started = Stopwatch.GetTimestamp();
        BertTokenizer tokenizer;
        try
        {
            using var vocabulary = new MemoryStream(folder.Vocabulary, writable: false);
            tokenizer = BertTokenizer.Create(vocabulary, new BertOptions
            {
                LowerCaseBeforeTokenization = folder.LowerCase,
                RemoveNonSpacingMarks = folder.StripAccents,
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or IOException)
        {
            throw OnnxEncoderFolder.Error(folder.VocabularyPath, $"is not a WordPiece vocabulary: {e.Message}", model.Name, e);
        }

        _ = OrtEnv.Instance(); // the process-wide runtime (about 25 MB, once) is not this model's
        var before = Environment.WorkingSet;
        InferenceSession session;
        using (var options = new SessionOptions())
        {
            if (threads is { } n)
            {
                options.IntraOpNumThreads = n;
            }

            try
            {
                session = new InferenceSession(folder.ModelPath, options);
            }
            catch (OnnxRuntimeException e)
            {
                throw new ModelLoadException(model.Name, $"ONNX Runtime could not load model '{model.Name}' from {folder.ModelPath}: {e.Message}", e);
            }
        }

        try
        {
            var (output, hasTokenTypes, dimensions) = CheckSignature(model, folder, session);
            var growth = Environment.WorkingSet - before;
            var instance = new OnnxEncoderModel(model, session, tokenizer, output, hasTokenTypes, dimensions, contextLength, batchSize, batchTokens, Math.Max(growth, folder.OnnxBytes));
            OnnxGenAILog.EncoderLoaded(logger, model.Name, Stopwatch.GetElapsedTime(started).TotalMilliseconds, dimensions, contextLength, batchSize,
                growth / 1048576.0, folder.OnnxBytes / 1048576.0);
            return instance;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Checks in managed code that the graph is an encoder: int64 [batch, sequence] inputs and a float [batch, sequence, hidden] output.</summary>
    private static (string Output, bool HasTokenTypes, int Dimensions) CheckSignature(ModelDescriptor model, OnnxEncoderFolder folder, InferenceSession session)
    {
        var inputs = session.InputMetadata;
        string Signature() =>
            $"inputs [{string.Join(", ", inputs.Select(kv => Describe(kv.Key, kv.Value)))}], outputs [{string.Join(", ", session.OutputMetadata.Select(kv => Describe(kv.Key, kv.Value)))}]";

        foreach (var required in new[] { InputIds, AttentionMask })
        {
            if (!inputs.TryGetValue(required, out var meta) || !IsTokenInput(meta))
            {
                throw OnnxEncoderFolder.Error(folder.ModelPath,
                    $"is not a sentence-embedding encoder: it needs an int64 [batch, sequence] input '{required}'; it has {Signature()}", model.Name);
            }
        }

        var extra = inputs.Keys.FirstOrDefault(k => k is not InputIds and not AttentionMask and not TokenTypeIds);
        if (extra is not null || (inputs.TryGetValue(TokenTypeIds, out var types) && !IsTokenInput(types)))
        {
            throw OnnxEncoderFolder.Error(folder.ModelPath,
                $"is not a sentence-embedding encoder: its input '{extra ?? TokenTypeIds}' is not one of int64 [batch, sequence] input_ids, attention_mask, token_type_ids; it has {Signature()}", model.Name);
        }

        // last_hidden_state (or token_embeddings) is what the pooling needs; another name is accepted when it is the only 3-D float output.
        var candidates = session.OutputMetadata.Where(kv => kv.Value.ElementType == typeof(float) && kv.Value.Dimensions.Length == 3).ToArray();
        var output = candidates.FirstOrDefault(kv => kv.Key is "last_hidden_state" or "token_embeddings");
        if (output.Key is null && candidates.Length == 1)
        {
            output = candidates[0];
        }

        if (output.Key is null || output.Value.Dimensions[2] <= 0)
        {
            throw OnnxEncoderFolder.Error(folder.ModelPath,
                $"is not a sentence-embedding encoder: it needs a float [batch, sequence, hidden] output 'last_hidden_state' with a fixed hidden size; it has {Signature()}", model.Name);
        }

        return (output.Key, inputs.ContainsKey(TokenTypeIds), output.Value.Dimensions[2]);
    }

    private static bool IsTokenInput(NodeMetadata meta) => meta.IsTensor && meta.ElementType == typeof(long) && meta.Dimensions.Length == 2;

    private static string Describe(string name, NodeMetadata meta) =>
        meta.IsTensor ? $"{name}: {meta.ElementType.Name} [{string.Join(", ", meta.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : meta.SymbolicDimensions[i] is { Length: > 0 } s ? s : "?"))}]"
        : $"{name}: {meta.OnnxValueType}";

    public async Task<GeneratedEmbeddings<Embedding<float>>> EmbedAsync(IReadOnlyList<string> values, int? dimensions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (dimensions is { } asked && asked != Dimensions)
        {
            throw new NotSupportedException(
                $"EmbeddingGenerationOptions.Dimensions = {asked} is not supported by model '{_model.Name}': its vectors have a fixed {Dimensions} dimensions (omit Dimensions, or ask for {Dimensions}).");
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);

        // Tokenize up front (managed, bounded by context_length), then run batches of similar lengths to pad little.
        var tokens = new int[values.Count][];
        long inputTokens = 0;
        for (var i = 0; i < values.Count; i++)
        {
            tokens[i] = Tokenize(values[i]);
            inputTokens += tokens[i].Length;
        }

        var order = Enumerable.Range(0, values.Count).OrderBy(i => tokens[i].Length).ToArray();
        var vectors = new float[values.Count][];
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            for (var start = 0; start < order.Length;)
            {
                // Sorted by length, so the text added last is the longest: grow the run while its padded size fits.
                var count = 1;
                while (start + count < order.Length && count < _batchSize
                       && (long)(count + 1) * tokens[order[start + count]].Length <= Math.Max(_batchTokens, _contextLength))
                {
                    count++;
                }

                cancellationToken.ThrowIfCancellationRequested();
                var batch = order.AsMemory(start, count);
                await Task.Run(() => RunBatch(batch.Span, tokens, vectors, cancellationToken), cancellationToken).ConfigureAwait(false);
                start += count;
            }
        }
        finally
        {
            _gate.Release();
        }

        var result = new GeneratedEmbeddings<Embedding<float>>(vectors.Length)
        {
            Usage = new UsageDetails { InputTokenCount = inputTokens, TotalTokenCount = inputTokens },
        };
        foreach (var vector in vectors)
        {
            result.Add(new Embedding<float>(vector));
        }

        return result;
    }

    /// <summary>The word pieces of <paramref name="text"/> with <c>[CLS]</c> and <c>[SEP]</c>, cut to the context length.</summary>
    internal int[] Tokenize(string text)
    {
        var pieces = _tokenizer.EncodeToIds(ReplaceLoneSurrogates(CutAfterWords(text, _contextLength)), _contextLength - 2, addSpecialTokens: false, out _, out _,
            considerPreTokenization: true, considerNormalization: true);
        var ids = new int[pieces.Count + 2];
        ids[0] = _tokenizer.ClassificationTokenId;
        for (var i = 0; i < pieces.Count; i++)
        {
            ids[i + 1] = pieces[i];
        }

        ids[^1] = _tokenizer.SeparatorTokenId;
        return ids;
    }

    /// <summary>
    /// The text up to its (<paramref name="words"/> + 1)-th word, the white space before it kept: every word gives at least one word
    /// piece and none depends on the text after it, so the first <paramref name="words"/> pieces are the same, and a text
    /// of megabytes costs no more than its head to tokenize.
    /// </summary>
    internal static string CutAfterWords(string text, int words)
    {
        var seen = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (!char.IsWhiteSpace(text[i]) && (i == 0 || char.IsWhiteSpace(text[i - 1])) && ++seen > words)
            {
                return text[..i];
            }
        }

        return text;
    }

    /// <summary>Unicode normalisation throws on invalid UTF-16; a lone surrogate becomes U+FFFD, as an invalid byte does in UTF-8 decoding.</summary>
    internal static string ReplaceLoneSurrogates(string text)
    {
        var span = text.AsSpan();
        if (!HasLoneSurrogate(span))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        for (var i = 0; i < span.Length; i++)
        {
            var c = span[i];
            if (char.IsHighSurrogate(c) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]))
            {
                builder.Append(c).Append(span[++i]);
            }
            else
            {
                builder.Append(char.IsSurrogate(c) ? '\uFFFD' : c);
            }
        }

        return builder.ToString();
    }

    private static bool HasLoneSurrogate(ReadOnlySpan<char> span)
    {
        for (var i = 0; i < span.Length; i++)
        {
            if (char.IsHighSurrogate(span[i]) && i + 1 < span.Length && char.IsLowSurrogate(span[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(span[i]))
            {
                return true;
            }
        }

        return false;
    }

    private void RunBatch(ReadOnlySpan<int> batch, int[][] tokens, float[][] vectors, CancellationToken cancellationToken)
    {
        var rows = batch.Length;
        var length = 0;
        foreach (var i in batch)
        {
            length = Math.Max(length, tokens[i].Length);
        }

        var ids = new long[rows * length];
        var mask = new long[rows * length];
        for (var r = 0; r < rows; r++)
        {
            var row = tokens[batch[r]];
            for (var t = 0; t < row.Length; t++)
            {
                ids[(r * length) + t] = row[t];
                mask[(r * length) + t] = 1;
            }
        }

        int[] shape = [rows, length];
        var inputs = new List<NamedOnnxValue>(3)
        {
            NamedOnnxValue.CreateFromTensor(InputIds, new DenseTensor<long>(ids, shape)),
            NamedOnnxValue.CreateFromTensor(AttentionMask, new DenseTensor<long>(mask, shape)),
        };
        if (_hasTokenTypes)
        {
            inputs.Add(NamedOnnxValue.CreateFromTensor(TokenTypeIds, new DenseTensor<long>(new long[rows * length], shape)));
        }

        using var run = new RunOptions();
        using var cancel = cancellationToken.Register(static o => ((RunOptions)o!).Terminate = true, run);
        IDisposableReadOnlyCollection<DisposableNamedOnnxValue> outputs;
        try
        {
            outputs = _session.Run(inputs, [_output], run);
        }
        catch (OnnxRuntimeException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (OnnxRuntimeException e)
        {
            throw new InvalidOperationException($"ONNX Runtime failed to run model '{_model.Name}': {e.Message}", e);
        }

        using (outputs)
        {
            var hidden = outputs[0].AsTensor<float>();
            var states = hidden is DenseTensor<float> dense ? dense.Buffer.Span : hidden.ToArray();
            var width = Dimensions!.Value;
            for (var r = 0; r < rows; r++)
            {
                // Mean over the tokens the attention mask keeps (the row's own tokens, [CLS] and [SEP] included), then L2.
                var count = tokens[batch[r]].Length;
                var sum = new double[width];
                for (var t = 0; t < count; t++)
                {
                    var state = states.Slice(((r * length) + t) * width, width);
                    for (var d = 0; d < width; d++)
                    {
                        sum[d] += state[d];
                    }
                }

                double squares = 0;
                for (var d = 0; d < width; d++)
                {
                    sum[d] /= count;
                    squares += sum[d] * sum[d];
                }

                var norm = Math.Max(Math.Sqrt(squares), 1e-12);
                var vector = new float[width];
                for (var d = 0; d < width; d++)
                {
                    vector[d] = (float)(sum[d] / norm);
                }

                vectors[batch[r]] = vector;
            }
        }
    }

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
