using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Tokenizers;

namespace ModelManager.Benchmarks.Compare;

/// <summary>The embedding baseline: an ONNX Runtime <see cref="InferenceSession"/> and a WordPiece tokenizer driven by hand, without the manager.</summary>
/// <remarks>
/// The work a direct caller does for sentence embeddings: tokenize with [CLS]/[SEP] (cut at the context), sort by length,
/// pad each run (up to <c>batchSize</c> texts and <c>batchTokens</c> padded tokens), run, mean-pool over the mask and L2-normalise. Runs on the session and tokenizer the manager loaded, so
/// both sides use the same weights and threads.
/// </remarks>
internal sealed class DirectEncoder(InferenceSession session, BertTokenizer tokenizer, int contextLength, int batchSize, int batchTokens)
{
    public float[][] Embed(IReadOnlyList<string> texts)
    {
        var tokens = texts.Select(t =>
        {
            var ids = tokenizer.EncodeToIds(t, contextLength - 2, addSpecialTokens: false, out _, out _);
            return (int[])[tokenizer.ClassificationTokenId, .. ids, tokenizer.SeparatorTokenId];
        }).ToArray();
        var order = Enumerable.Range(0, texts.Count).OrderBy(i => tokens[i].Length).ToArray();
        var vectors = new float[texts.Count][];
        for (var start = 0; start < order.Length;)
        {
            var rows = 1;
            while (start + rows < order.Length && rows < batchSize && (rows + 1) * tokens[order[start + rows]].Length <= batchTokens)
            {
                rows++;
            }

            var batch = order.Skip(start).Take(rows).ToArray();
            start += rows;
            var length = batch.Max(i => tokens[i].Length);
            var ids = new long[batch.Length * length];
            var mask = new long[batch.Length * length];
            for (var r = 0; r < batch.Length; r++)
            {
                for (var t = 0; t < tokens[batch[r]].Length; t++)
                {
                    ids[(r * length) + t] = tokens[batch[r]][t];
                    mask[(r * length) + t] = 1;
                }
            }

            int[] shape = [batch.Length, length];
            using var outputs = session.Run(
            [
                NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, shape)),
                NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, shape)),
                NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[ids.Length], shape)),
            ], ["last_hidden_state"]);
            var hidden = ((DenseTensor<float>)outputs[0].AsTensor<float>()).Buffer.Span;
            var width = hidden.Length / (batch.Length * length);
            for (var r = 0; r < batch.Length; r++)
            {
                var count = tokens[batch[r]].Length;
                var v = new float[width];
                for (var t = 0; t < count; t++)
                {
                    var row = hidden.Slice(((r * length) + t) * width, width);
                    for (var d = 0; d < width; d++)
                    {
                        v[d] += row[d];
                    }
                }

                var norm = MathF.Sqrt(v.Sum(x => x * x));
                for (var d = 0; d < width; d++)
                {
                    v[d] /= norm;
                }

                vectors[batch[r]] = v;
            }
        }

        return vectors;
    }

    /// <summary>Texts per second of one <see cref="Embed"/> call over <paramref name="texts"/>.</summary>
    public double TextsPerSecond(IReadOnlyList<string> texts)
    {
        var watch = Stopwatch.StartNew();
        _ = Embed(texts);
        return texts.Count / watch.Elapsed.TotalSeconds;
    }
}
