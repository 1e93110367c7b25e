namespace ModelManager.Benchmarks.Compare;

/// <summary>The models the comparisons run on: the shared real ones and synthesized GGUF files of a given size.</summary>
internal sealed class BenchModels
{
    /// <summary>The full run's synthesized model: 160 MiB of F32 weights, where decoding is bound by memory bandwidth.</summary>
    public const long FullSyntheticBytes = 160L << 20;

    /// <summary>The quick run's synthesized model: small enough to load and decode in milliseconds.</summary>
    public const long QuickSyntheticBytes = 8L << 20;

    private BenchModels(string stories, string tinyGpt2, string synthetic, string syntheticB, long syntheticBytes)
    {
        Stories260K = stories;
        TinyGpt2 = tinyGpt2;
        Synthetic = synthetic;
        SyntheticB = syntheticB;
        SyntheticBytes = syntheticBytes;
    }

    /// <summary>shared/models/stories260K/stories260K.gguf.</summary>
    public string Stories260K { get; }

    /// <summary>The shared/models/tiny-random-gpt2-fp32 folder.</summary>
    public string TinyGpt2 { get; }

    /// <summary>The synthesized GGUF model (seed 1).</summary>
    public string Synthetic { get; }

    /// <summary>A second synthesized model of the same size (seed 2), for swaps.</summary>
    public string SyntheticB { get; }

    public long SyntheticBytes { get; }

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
        return new BenchModels(stories, gpt2, a, b, bytes);
    }

    /// <summary>Reads every file once so that later loads come from the OS page cache, as the comparisons assume.</summary>
    public void WarmPageCache()
    {
        var buffer = new byte[1 << 20];
        foreach (var file in new[] { Stories260K, Synthetic, SyntheticB }.Concat(Directory.GetFiles(TinyGpt2)))
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
