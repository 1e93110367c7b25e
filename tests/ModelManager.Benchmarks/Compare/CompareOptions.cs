using System.Globalization;

namespace ModelManager.Benchmarks.Compare;

/// <summary>The <c>compare</c> command's arguments.</summary>
internal sealed record CompareOptions
{
    public static readonly string[] Groups = ["load", "generation", "structured", "cache", "sharing", "concurrency", "swap", "onnx", "embeddings", "placement"];

    /// <summary>Each pair once, on tiny models (CI keeps the runner from rotting).</summary>
    public bool Quick { get; init; }

    /// <summary>Repetitions per pair, each running baseline and candidate once.</summary>
    public int Runs { get; init; } = 7;

    /// <summary>Where benchmark-results.json and .md go: the repository root unless --out says otherwise.</summary>
    public string OutDirectory { get; init; } = "";

    /// <summary>Where synthesized GGUF models are cached.</summary>
    public string CacheDirectory { get; init; } = Path.Combine(Path.GetTempPath(), "modelmanager-benchmarks");

    /// <summary>The pair groups to run (all by default).</summary>
    public IReadOnlySet<string> Only { get; init; } = new HashSet<string>(Groups, StringComparer.Ordinal);

    public bool Includes(string group) => Only.Contains(group);

    public static CompareOptions? Parse(string[] args, out string? error)
    {
        error = null;
        var options = new CompareOptions();
        int? runs = null;
        string? outDir = null;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string? Value()
            {
                if (i + 1 < args.Length)
                {
                    return args[++i];
                }

                return null;
            }

            switch (arg)
            {
                case "--quick":
                    options = options with { Quick = true };
                    break;
                case "--runs":
                    if (!int.TryParse(Value(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) || n < 1)
                    {
                        error = "--runs needs a positive number";
                        return null;
                    }

                    runs = n;
                    break;
                case "--out":
                    outDir = Value();
                    if (string.IsNullOrWhiteSpace(outDir))
                    {
                        error = "--out needs a folder";
                        return null;
                    }

                    break;
                case "--cache-dir":
                    var cache = Value();
                    if (string.IsNullOrWhiteSpace(cache))
                    {
                        error = "--cache-dir needs a folder";
                        return null;
                    }

                    options = options with { CacheDirectory = Path.GetFullPath(cache) };
                    break;
                case "--only":
                    var names = (Value() ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                    var unknown = names.Where(n => !Groups.Contains(n)).ToList();
                    if (names.Length == 0 || unknown.Count > 0)
                    {
                        error = $"--only takes a comma-separated list of {string.Join(", ", Groups)}";
                        return null;
                    }

                    options = options with { Only = new HashSet<string>(names, StringComparer.Ordinal) };
                    break;
                default:
                    error = $"unknown option '{arg}'";
                    return null;
            }
        }

        return options with
        {
            Runs = runs ?? (options.Quick ? 1 : 7),
            OutDirectory = Path.GetFullPath(outDir ?? RepositoryRoot()),
        };
    }

    /// <summary>The folder holding ModelManager.sln, searched upwards from the working directory, then from the app.</summary>
    internal static string RepositoryRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "ModelManager.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return Directory.GetCurrentDirectory();
    }
}
