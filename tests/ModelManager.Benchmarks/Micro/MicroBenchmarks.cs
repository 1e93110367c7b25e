using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace ModelManager.Benchmarks.Micro;

/// <summary>Runs the BenchmarkDotNet suite with the caller's arguments (filters, jobs, exporters pass through).</summary>
internal static class MicroBenchmarks
{
    public static int Run(string[] args)
    {
        // In-process: no generated project to build (other engineers build in this tree), and the fixture's native state stays put.
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(Job.Default.WithToolchain(InProcessEmitToolchain.Instance).AsDefault())
            .WithOptions(ConfigOptions.JoinSummary | ConfigOptions.DisableLogFile);

        // Without a filter BenchmarkDotNet asks interactively which benchmarks to run.
        var hasFilter = args.Any(a => a is "--filter" or "-f" or "--list" or "--allCategories" or "--anyCategories" or "--help" or "-h" or "--version");
        string[] effective = hasFilter ? args : ["--filter", "*", .. args];
        var summaries = BenchmarkSwitcher.FromTypes([typeof(WarmPathBenchmarks)]).Run(effective, config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
