using ModelManager.Benchmarks.Compare;
using ModelManager.Benchmarks.Micro;

namespace ModelManager.Benchmarks;

/// <summary>The entry point: <c>micro</c> runs the BenchmarkDotNet suite, <c>compare</c> the side-by-side comparison runner.</summary>
public static class BenchmarkApp
{
    public const string Usage = """
        usage:
          dotnet run -c Release --project tests/ModelManager.Benchmarks -- micro [BenchmarkDotNet args, e.g. --filter *WarmPath*]
          dotnet run -c Release --project tests/ModelManager.Benchmarks -- compare [--quick] [--out DIR] [--cache-dir DIR] [--runs N] [--only NAME[,NAME]]

        micro     warm-path micro-benchmarks (GetModel + lease acquire/release, 1 and 8 threads) against a
                  ConcurrentDictionary + Interlocked floor; in-process toolchain, memory diagnoser on
        compare   each pair measured in one run, baseline and candidate alternating; writes
                  benchmark-results.json and benchmark-results.md into the repository root (or --out DIR)
          --quick       every pair once, tiny models: finishes in well under a minute (CI)
          --runs N      repetitions per pair (default 7; --quick: 1)
          --only NAMES  comma-separated pair groups: load, generation, structured, cache, onnx, embeddings, concurrency, swap, sharing, placement
          --cache-dir   where the synthesized GGUF models are kept (default: $TMPDIR/modelmanager-benchmarks)
        """;

    /// <summary>Runs the command in <paramref name="args"/>, writing to <paramref name="output"/> (the terminal when null).</summary>
    /// <returns>0 on success, 1 on failure, 2 for bad arguments.</returns>
    public static async Task<int> RunAsync(string[] args, TextWriter? output = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var command = args.Length > 0 ? args[0] : "";
        var rest = args.Length > 0 ? args[1..] : [];
        switch (command)
        {
            case "micro":
                return MicroBenchmarks.Run(rest);
            case "compare":
                var options = CompareOptions.Parse(rest, out var error);
                if (options is null)
                {
                    (output ?? Console.Error).WriteLine($"error: {error}");
                    (output ?? Console.Error).WriteLine(Usage);
                    return 2;
                }

                return await ComparisonRunner.RunAsync(options, output, cancellationToken).ConfigureAwait(false);
            case SharingChild.Command:
                return await SharingChild.RunAsync(rest, output ?? Console.Out).ConfigureAwait(false);
            case PlacementChild.Command:
                return await PlacementChild.RunAsync(rest, output ?? Console.Out).ConfigureAwait(false);
            case "-h" or "--help" or "help":
                (output ?? Console.Out).WriteLine(Usage);
                return 0;
            default:
                (output ?? Console.Error).WriteLine(command.Length == 0 ? "error: no command" : $"error: unknown command '{command}'");
                (output ?? Console.Error).WriteLine(Usage);
                return 2;
        }
    }
}
