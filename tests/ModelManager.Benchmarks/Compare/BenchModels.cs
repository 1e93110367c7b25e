namespace ModelManager.Benchmarks.Compare;

/// <summary>The models the comparisons run on: the shared real ones and synthesized GGUF files of a given size.</summary>
/// <param name="Stories260K">shared/models/stories260K/stories260K.gguf.</param>
/// <param name="TinyGpt2">The shared/models/tiny-random-gpt2-fp32 folder.</param>
/// <param name="Synthetic">The synthesized GGUF model (seed 1).</param>
/// <param name="SyntheticB">A second synthesized model of the same size (seed 2), for swaps.</param>
/// <param name="SyntheticBytes">The size both synthesized models were made to.</param>
/// <param name="MiniLm">The shared/models/all-MiniLM-L6-v2 folder, or null when it is missing (only the embeddings pair needs it).</param>
internal sealed record BenchModels(string Stories260K, string TinyGpt2, string Synthetic, string SyntheticB, long SyntheticBytes, string? MiniLm = null)
{
    /// <summary>The full run's synthesized model: 160 MiB of F32 weights, where decoding is bound by memory bandwidth.</summary>
    public const long FullSyntheticBytes = 160L << 20;

    /// <summary>The quick run's synthesized model: small enough to load and decode in milliseconds.</summary>
    public const long QuickSyntheticBytes = 8L << 20;

    /// <summary>A short label for the synthesized model: <c>synthetic-160MB</c>.</summary>
    public string SyntheticLabel => $"synthetic-{SyntheticBytes >> 20}MB";

    /// <summary>Finds the shared models (throwing when one is missing) and synthesizes the GGUF files if they are not cached yet.</summary>
    public static BenchModels Prepare(CompareOptions options)
    {
        var shared = FindSharedModels()
            ?? throw new FileNotFoundException("shared/models not found: expected ../shared/models beside the repository (searched upwards from the working directory and the app).");
        var stories = Require(Path.Combine(shared, "stories260K", "stories260K.gguf"));
        var gpt2 = Path.GetDirectoryName(Require(Path.Combine(shared, "tiny-random-gpt2-fp32", "genai_config.json")))!;
        var bytes = options.Quick ? QuickSyntheticBytes : FullSyntheticBytes;
        var a = SyntheticGgufWriter.GetOrCreate(options.CacheDirectory, new SyntheticGgufOptions { TargetBytes = bytes, Seed = 1, Name = "bench-a" });
        var b = SyntheticGgufWriter.GetOrCreate(options.CacheDirectory, new SyntheticGgufOptions { TargetBytes = bytes, Seed = 2, Name = "bench-b" });
        var minilm = Path.Combine(shared, "all-MiniLM-L6-v2");
        return new BenchModels(stories, gpt2, a, b, bytes, File.Exists(Path.Combine(minilm, "model.onnx")) ? minilm : null);
    }

    /// <summary>Reads every file once so that later loads come from the OS page cache, as the comparisons assume.</summary>
    public void WarmPageCache()
    {
        var buffer = new byte[1 << 20];
        foreach (var file in new[] { Stories260K, Synthetic, SyntheticB }.Concat(Directory.GetFiles(TinyGpt2)).Concat(MiniLm is null ? [] : Directory.GetFiles(MiniLm)))
        {
            using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan);
            while (stream.Read(buffer) > 0)
            {
            }
        }
    }

    private static string Require(string path) => File.Exists(path)
        ? path
        : throw new FileNotFoundException($"Shared model '{path}' not found.", path);

    private static string? FindSharedModels()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                foreach (var candidate in new[] { Path.Combine(dir.FullName, "shared", "models"), Path.Combine(dir.FullName, "..", "shared", "models") })
                {
                    if (Directory.Exists(candidate))
                    {
                        return Path.GetFullPath(candidate);
                    }
                }
            }
        }

        return null;
    }
}
