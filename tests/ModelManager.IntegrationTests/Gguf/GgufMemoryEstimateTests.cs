using System.Globalization;
using LLama;
using LLama.Common;
using LLama.Native;
using LLama.Sampling;
using ModelManager.Benchmarks;
using Xunit.Abstractions;

namespace ModelManager.IntegrationTests;

[Collection(RunAlone.Name)]
public sealed partial class GgufMemoryEstimateTests(ITestOutputHelper output)
{
    private const long MiB = 1024 * 1024;

    [Fact]
    public async Task Estimate_SyntheticModelOver100MB_WithinAQuarterOfResidentGrowth()
    {
        string warmup = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 1_000_000, Seed = 1 });
        string path = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 120_000_000, Seed = 1 });
        var info = GgufReader.Read(path);
        long estimate = GgufMemoryEstimator.Estimate(info, contextLength: 512, parallel: 1);

        // Touch llama.cpp's code and one-time tables first: they are per process, not per model.
        await LoadAndGenerateAsync(warmup, promptLength: 16, measure: null);
        FixMallocThreshold();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long before = ResidentBytes();

        long growth = 0;
        await LoadAndGenerateAsync(path, promptLength: 480, measure: () => growth = ResidentBytes() - before);

        string buffers = string.Join("; ", NativeLog.Recent("buffer size =").TakeLast(4));
        double error = (estimate - growth) / (double)growth;
        string report = $"estimate {estimate / (double)MiB:F1} MiB vs measured RSS growth {growth / (double)MiB:F1} MiB ({error:P1}); llama.cpp: {buffers}";
        output.WriteLine(report);
        Assert.True(Math.Abs(error) <= 0.25, report);
    }

    [Fact]
    public void Estimate_Stories260KShape_CountsEachTerm()
    {
        // stories260K: 5 blocks, embd 64, ff 172, 8 heads of 8, 4 kv heads, vocab 512, 48 tensors, 1,171,200 tensor bytes.
        var info = Info(blocks: 5, embd: 64, ff: 172, heads: 8, headsKv: 4, vocab: 512, tensorBytes: 1_171_200, tensors: 48);

        long estimate = GgufMemoryEstimator.Estimate(info, 512, 1);

        long kv = 512L * 5 * 4 * (8 + 8) * 2;                     // 0.31 MiB, as llama.cpp reports
        long compute = (4L * 512 * ((3 * 172) + (4 * 64))) + (2L * 512 * 512); // 2.01 MiB; llama.cpp reserves 2.02
        long rest = (512 * 4) + (512 * GgufMemoryEstimator.BytesPerToken) + (48 * GgufMemoryEstimator.BytesPerTensor) + GgufMemoryEstimator.FixedOverhead;
        Assert.Equal(1_171_200 + kv + compute + rest, estimate);
    }

    [Fact]
    public void Estimate_GrowsWithContextAndSequences_AndPadsTheCacheTo256()
    {
        var info = Info(blocks: 4, embd: 768, ff: 2426, heads: 12, headsKv: 6, vocab: 356, tensorBytes: 119_958_528, tensors: 39);
        long kvPerCell = 4L * 6 * (64 + 64) * 2;

        long at512 = GgufMemoryEstimator.Estimate(info, 512, 1);
        long at513 = GgufMemoryEstimator.Estimate(info, 513, 1);
        long twoSequences = GgufMemoryEstimator.Estimate(info, 512, 2);
        long training = GgufMemoryEstimator.Estimate(info, 0, 0);

        Assert.Equal(256 * kvPerCell, at513 - at512 - (2L * 256 * 512)); // one more 256-cell block, and its mask row
        Assert.True(twoSequences - at512 >= 512 * kvPerCell);
        Assert.Equal(GgufMemoryEstimator.Estimate(info, 4096, 1), training);
    }

    [Fact]
    public void Estimate_FlashAttentionOff_AddsEveryHeadsScoresAndSoftmax_ForOneMicroBatchAgainstTheWholeCache()
    {
        var info = Info(blocks: 5, embd: 64, ff: 172, heads: 8, headsKv: 4, vocab: 512, tensorBytes: 1_171_200, tensors: 48);

        Assert.Equal(2L * 4 * 512 * 512 * 8, GgufMemoryEstimator.Estimate(info, 512, 1, flashAttention: false) - GgufMemoryEstimator.Estimate(info, 512, 1));
        Assert.Equal(2L * 4 * 2048 * 512 * 8, GgufMemoryEstimator.Estimate(info, 1024, 2, flashAttention: false) - GgufMemoryEstimator.Estimate(info, 1024, 2)); // the cache of every sequence
        Assert.Contains("flash attention off", GgufMemoryEstimator.EstimateParts(info, 512, 1, flashAttention: false).Parts.Single(p => p.Name == "compute").Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Estimate_AbsurdButValidMetadata_DoesNotOverflow()
    {
        var info = Info(blocks: long.MaxValue, embd: long.MaxValue, ff: long.MaxValue, heads: 1, headsKv: long.MaxValue, vocab: long.MaxValue, tensorBytes: long.MaxValue / 2, tensors: 1);

        Assert.Equal(long.MaxValue, GgufMemoryEstimator.Estimate(info, int.MaxValue, int.MaxValue));
        Assert.Equal(long.MaxValue, GgufMemoryEstimator.Estimate(info, int.MaxValue, int.MaxValue, flashAttention: false));
    }

    private static GgufModelInfo Info(long blocks, long embd, long ff, long heads, long headsKv, long vocab, long tensorBytes, int tensors) => new()
    {
        FilePath = "shape.gguf",
        FileSize = tensorBytes,
        Version = 3,
        Alignment = 32,
        DataOffset = 0,
        Architecture = "llama",
        ContextLength = 4096,
        BlockCount = blocks,
        EmbeddingLength = embd,
        FeedForwardLength = ff,
        HeadCount = heads,
        HeadCountKv = headsKv,
        KeyLength = embd / heads,
        ValueLength = embd / heads,
        VocabSize = vocab,
        TensorBytes = tensorBytes,
        // As GgufReader guarantees, the tensors' sizes add up to TensorBytes (the estimate's weights are their sum by type).
        Tensors = Enumerable.Range(0, tensors)
            .Select(i => new GgufTensorInfo("t" + i, GgmlType.F32, [1], 0, (tensorBytes / tensors) + (i == 0 ? tensorBytes % tensors : 0))).ToList(),
        Metadata = new Dictionary<string, string>(),
    };

    // Loads with LoadMode None (weights read into memory), creates one context of 512, runs a prompt that fills
    // most of a micro-batch and generates a few tokens; measures while everything is still alive.
    private static async Task LoadAndGenerateAsync(string path, int promptLength, Action? measure)
    {
        var parameters = new ModelParams(path) { ContextSize = 512, GpuLayerCount = 0, LoadMode = LLamaLoadMode.None };
        using var weights = LLamaWeights.LoadFromFile(parameters);
        using var context = weights.CreateContext(parameters);
        Assert.False(context.NativeHandle.IsInvalid);
        var executor = new InteractiveExecutor(context);
        string prompt = string.Concat(Enumerable.Range(0, promptLength).Select(i => (char)('a' + (i % 26))));
        int generated = 0;
        await foreach (string _ in executor.InferAsync(prompt, new InferenceParams { MaxTokens = 4, SamplingPipeline = new GreedySamplingPipeline() }))
        {
            generated++;
        }

        Assert.Equal(4, generated);
        measure?.Invoke();
    }

    private static long ResidentBytes()
    {
        if (OperatingSystem.IsLinux())
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }

        using var process = System.Diagnostics.Process.GetCurrentProcess();
        process.Refresh();
        return process.WorkingSet64;
    }

    private static void FixMallocThreshold() => ProcessMemory.FixMallocThreshold();
}
