using Spectre.Console;

namespace ModelManager.Benchmarks.Compare;

/// <summary>What every pair gets: the options, the models, somewhere to report progress.</summary>
internal sealed record PairContext(CompareOptions Options, BenchModels Models, IAnsiConsole Console, CancellationToken CancellationToken)
{
    public int Runs => Options.Runs;

    /// <summary>Warm-up runs are skipped in quick mode, where every pair runs once.</summary>
    public bool WarmUp => !Options.Quick;

    public void Progress(string message) => Console.MarkupLine($"  [grey]{Markup.Escape(message)}[/]");
}
