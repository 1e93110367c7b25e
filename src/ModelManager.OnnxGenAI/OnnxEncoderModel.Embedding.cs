using System.Text;
using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace ModelManager;

// Embedding: tokenizing, batching, the ONNX Runtime run, mean pooling and L2 normalisation.
internal sealed partial class OnnxEncoderModel
{
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
}
