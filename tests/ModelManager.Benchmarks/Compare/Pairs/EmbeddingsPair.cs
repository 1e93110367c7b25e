using System.Diagnostics;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace ModelManager.Benchmarks.Compare.Pairs;

/// <summary>Embeddings on all-MiniLM-L6-v2: one call of 64 texts vs 64 calls of one, and the manager vs the same session driven directly.</summary>
internal static class EmbeddingsPair
{
    /// <summary>Texts per call in both rows.</summary>
    public const int Texts = 64;

    public static async Task<IReadOnlyList<Comparison>> RunAsync(PairContext context)
    {
        var minilm = context.Models.MiniLm ?? throw new FileNotFoundException("shared/models/all-MiniLM-L6-v2 not found: the embeddings comparison needs it.");
        context.Progress($"embeddings all-MiniLM-L6-v2: {Texts} texts");
        var config = $$"""{ "max_memory_mb": 4096, "models": [ { "name": "minilm", "type": "onnx", "path": {{JsonSerializer.Serialize(minilm)}} } ] }""";
        await using var fixture = await ManagerFixture.CreateAsync(config).ConfigureAwait(false);
        await fixture.Manager.LoadModelAsync("minilm").ConfigureAwait(false);
        var generator = fixture.Manager.GetEmbeddingGenerator("minilm");
        var texts = Sentences(Texts);

        InferenceSession session;
        BertTokenizer tokenizer;
        await using (var lease = await fixture.Manager.AcquireAsync("minilm").ConfigureAwait(false))
        {
            session = (InferenceSession)lease.GetService(typeof(InferenceSession))!;
            tokenizer = (BertTokenizer)lease.GetService(typeof(BertTokenizer))!;
        }

        var direct = new DirectEncoder(session, tokenizer, contextLength: 256, batchSize: 64, batchTokens: 4096);
        var reference = direct.Embed(texts);
        var managed = await generator.GenerateAsync(texts, cancellationToken: context.CancellationToken).ConfigureAwait(false);
        var worst = Enumerable.Range(0, Texts).Min(i => Cosine(reference[i], managed[i].Vector.Span));

        var runs = context.Options.Quick ? context.Runs : context.Runs * 2;
        var samples = await Sampler.RotateAsync(runs, context.WarmUp, context.CancellationToken,
            async () =>
            {
                var watch = Stopwatch.StartNew();
                foreach (var text in texts)
                {
                    _ = await generator.GenerateAsync([text], cancellationToken: context.CancellationToken).ConfigureAwait(false);
                }

                return Texts / watch.Elapsed.TotalSeconds;
            },
            async () =>
            {
                var watch = Stopwatch.StartNew();
                _ = await generator.GenerateAsync(texts, cancellationToken: context.CancellationToken).ConfigureAwait(false);
                return Texts / watch.Elapsed.TotalSeconds;
            },
            () => Task.FromResult(direct.TextsPerSecond(texts)),
            () =>
            {
                var watch = Stopwatch.StartNew();
                foreach (var text in texts)
                {
                    _ = direct.Embed([text]);
                }

                return Task.FromResult(Texts / watch.Elapsed.TotalSeconds);
            }).ConfigureAwait(false);

        var same = $"Vectors of both sides agree (worst cosine {worst:F6}).";
        return
        [
            new Comparison("embeddings/all-MiniLM-L6-v2/batch", $"{Texts} calls of one text", $"one call of {Texts} texts", "texts/s", true,
                samples[0], samples[1], 2.0,
                $"IEmbeddingGenerator.GenerateAsync on the managed encoder (type onnx, the defaults: context_length 256, batch_size 64, batch_tokens 4096), {Texts} sentences of 4 to 24 words, CPU; each call leases the model."),
            new Comparison("embeddings/all-MiniLM-L6-v2/onnx-direct", "InferenceSession + BertTokenizer by hand", "IEmbeddingGenerator.GenerateAsync (type onnx)", "texts/s", true,
                samples[2], samples[1], 0.97,
                $"{Texts} texts per call; the baseline tokenizes, sorts by length, pads runs as the manager does (64 texts, 4096 padded tokens at most), runs and mean-pools itself, on the session and tokenizer the manager loaded. {same}"),
            new Comparison("embeddings/all-MiniLM-L6-v2/onnx-direct-batch", $"{Texts} direct runs of one text", $"one direct run of {Texts} texts", "texts/s", true,
                samples[3], samples[2], null,
                "Informational: what batching gains in ONNX Runtime itself, without the manager (the same texts and session): the bound of the batch row."),
        ];
    }

    /// <summary>Sentences of 4 to 24 words (queries and short passages), deterministic, so batches pad as real text does.</summary>
    private static string[] Sentences(int count)
    {
        string[] words = ["the", "model", "manager", "loads", "a", "small", "story", "about", "memory", "budget", "guitar", "music", "market", "fell", "today", "agents", "share", "one", "copy", "quickly"];
        var random = new Random(14);
        return Enumerable.Range(0, count)
            .Select(_ => string.Join(' ', Enumerable.Range(0, random.Next(4, 25)).Select(_ => words[random.Next(words.Length)])) + ".")
            .ToArray();
    }

    private static double Cosine(float[] a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(a, b);
}
