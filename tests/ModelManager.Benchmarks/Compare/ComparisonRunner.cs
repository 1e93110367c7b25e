using System.Diagnostics;
using System.Globalization;
using ModelManager.Benchmarks.Compare.Pairs;
using Spectre.Console;

namespace ModelManager.Benchmarks.Compare;

/// <summary>The <c>compare</c> command: every pair side by side in one run, then benchmark-results.json and .md.</summary>
internal static class ComparisonRunner
{
    public static async Task<int> RunAsync(CompareOptions options, TextWriter? output, CancellationToken cancellationToken)
    {
        var console = CreateConsole(output);
        var machine = MachineInfo.Current();
        var loadBefore = MachineInfo.LoadAverageText();
        var started = DateTimeOffset.UtcNow;
        var watch = Stopwatch.StartNew();
        console.Write(new Rule($"[bold]ModelManager comparisons[/] ({(options.Quick ? "quick" : "full")}, {options.Runs} run(s) per pair)").LeftJustified());
        console.MarkupLine($"machine: {Markup.Escape(machine.ToString())}");
        console.MarkupLine($"load average before: {loadBefore}");

        ProcessMemory.FixMallocThreshold();
        await NativeSetup.RouteNativeLogsAsync().ConfigureAwait(false);
        BenchModels models;
        try
        {
            models = BenchModels.Prepare(options);
            models.WarmPageCache();
        }
        catch (FileNotFoundException e)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
            return 1;
        }

        var context = new PairContext(options, models, console, cancellationToken);
        var results = new List<Comparison>();
        var pairs = new (string Group, Func<PairContext, Task<IReadOnlyList<Comparison>>> Run)[]
        {
            ("load", LoadPair.RunAsync),
            ("generation", GenerationPair.RunAsync),
            ("structured", StructuredPair.RunAsync),
            ("cache", PromptCachePair.RunAsync),
            ("onnx", OnnxPair.RunAsync),
            ("embeddings", EmbeddingsPair.RunAsync),
            ("concurrency", ConcurrencyPair.RunAsync),
            ("swap", SwapPair.RunAsync),
            ("sharing", SharingPair.RunAsync),
            ("placement", PlacementPair.RunAsync),
        };
        try
        {
            foreach (var (group, run) in pairs)
            {
                if (!options.Includes(group))
                {
                    continue;
                }

                var pairWatch = Stopwatch.StartNew();
                console.MarkupLine($"[bold]{group}[/]");
                var rows = await run(context).ConfigureAwait(false);
                results.AddRange(rows);
                foreach (var row in rows)
                {
                    console.MarkupLine(string.Create(CultureInfo.InvariantCulture,
                        $"  {Markup.Escape(row.Name)}: {row.BaselineMedian:G4} vs {row.CandidateMedian:G4} {Markup.Escape(row.Unit)}, ratio {row.Ratio:F3}"));
                }

                console.MarkupLine(string.Create(CultureInfo.InvariantCulture, $"  [grey]{pairWatch.Elapsed.TotalSeconds:F1} s[/]"));
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            console.MarkupLine($"[red]error:[/] {Markup.Escape(e.ToString())}");
            return 1;
        }

        var loadAfter = MachineInfo.LoadAverageText();
        Directory.CreateDirectory(options.OutDirectory);
        var jsonPath = Path.Combine(options.OutDirectory, ResultWriter.JsonFileName);
        var mdPath = Path.Combine(options.OutDirectory, ResultWriter.MarkdownFileName);
        ResultWriter.WriteJson(jsonPath, results);
        var command = "dotnet run -c Release --project tests/ModelManager.Benchmarks -- compare" + (options.Quick ? " --quick" : "")
                      + (options.Runs != (options.Quick ? 1 : 7) ? $" --runs {options.Runs}" : "")
                      + (options.Only.Count != CompareOptions.Groups.Length ? $" --only {string.Join(',', CompareOptions.Groups.Where(options.Includes))}" : "");
        await File.WriteAllTextAsync(mdPath, ResultWriter.Markdown(results, machine, loadBefore, loadAfter, command, started, options.Quick), cancellationToken).ConfigureAwait(false);

        console.Write(ResultWriter.Table(results));
        if (options.Quick)
        {
            console.MarkupLine("[yellow]quick mode: one cold run per pair on tiny models; the ratios mean nothing[/]");
        }

        console.MarkupLine($"load average after: {loadAfter}; {watch.Elapsed.TotalSeconds:F1} s in all");
        console.MarkupLine($"wrote {Markup.Escape(jsonPath)} and {Markup.Escape(mdPath)}");
        return 0;
    }

    private static IAnsiConsole CreateConsole(TextWriter? output)
    {
        var rich = output is null && !Console.IsOutputRedirected && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = rich ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = rich ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
            Out = new AnsiConsoleOutput(output ?? Console.Out),
        });
        if (!rich)
        {
            console.Profile.Width = 200;
        }

        return console;
    }
}
