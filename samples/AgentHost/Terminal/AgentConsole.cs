using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace AgentHost;

/// <summary>Everything the sample prints: rules, tables, load progress bars and colored event lines.</summary>
/// <remarks>
/// Thread-safe: model events and load progress arrive on the manager's threads while agents print results.
/// On a terminal it uses colors and live progress bars; otherwise (redirected, --no-color, NO_COLOR, a TextWriter)
/// it writes plain ASCII lines that read well in a CI log.
/// </remarks>
public sealed class AgentConsole
{
    private const double Mb = 1024 * 1024;
    private readonly IAnsiConsole _console;
    private readonly Lock _lock = new();
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly Dictionary<string, ProgressTask> _bars = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _loadsInFlight = new(StringComparer.Ordinal);
    private ProgressContext? _progress;

    private AgentConsole(IAnsiConsole console, bool rich)
    {
        _console = console;
        IsRich = rich;
    }

    /// <summary>True when writing colors and live progress bars to a terminal.</summary>
    public bool IsRich { get; }

    /// <summary>Writes to <paramref name="output"/>, or to the terminal (rich when it is one and colors are allowed) when null.</summary>
    public static AgentConsole Create(TextWriter? output, bool noColor)
    {
        var rich = output is null && !noColor && !Console.IsOutputRedirected
                   && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))
                   && Environment.GetEnvironmentVariable("TERM") != "dumb";
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = rich ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = rich ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = rich ? InteractionSupport.Detect : InteractionSupport.No,
            Out = new AnsiConsoleOutput(output ?? Console.Out),
        });
        if (!rich)
        {
            // A log has no width: never wrap a line, and stick to ASCII.
            console.Profile.Width = 250;
            console.Profile.Capabilities.Unicode = false;
        }

        return new AgentConsole(console, rich);
    }

    public void Title(string title, string subtitle)
    {
        lock (_lock)
        {
            WriteRule($"[bold]{Esc(title)}[/]", title, "deepskyblue1", '=');
            _console.MarkupLine($"[grey]{Esc(subtitle)}[/]");
        }
    }

    public void Section(string title)
    {
        lock (_lock)
        {
            _console.WriteLine();
            WriteRule($"[bold deepskyblue1]{Esc(title)}[/]", title, "grey", '-');
        }
    }

    /// <summary>Writes a line of Spectre markup (escape user text with <see cref="Markup.Escape"/>).</summary>
    public void MarkupLine(string markup)
    {
        lock (_lock)
        {
            _console.MarkupLine(markup);
        }
    }

    /// <summary>Writes a plain line.</summary>
    public void Line(string text = "") => MarkupLine(Esc(text));

    /// <summary>Writes "  label: value" with a dim label.</summary>
    public void Detail(string label, string value) =>
        MarkupLine($"  [grey]{Esc(label)}:[/] {Esc(value)}");

    /// <summary>Writes a note in grey.</summary>
    public void Note(string text) => MarkupLine($"  [grey]{Esc(text)}[/]");

    public void Error(string text) => MarkupLine($"[red bold]error:[/] [red]{Esc(text)}[/]");

    /// <summary>Writes a table of plain-text cells; columns listed in <paramref name="rightAligned"/> are numbers.</summary>
    public void Table(string? title, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows, params int[] rightAligned)
    {
        var table = NewTable(title);
        for (var i = 0; i < headers.Count; i++)
        {
            var column = new TableColumn($"[bold]{Esc(headers[i])}[/]");
            table.AddColumn(rightAligned.Contains(i) ? column.RightAligned() : column);
        }

        foreach (var row in rows)
        {
            table.AddRow(row.Select(c => Esc(c)).ToArray());
        }

        lock (_lock)
        {
            _console.Write(table);
        }
    }

    /// <summary>Runs <paramref name="body"/> under live progress bars for the loads it causes (plain lines when not rich).</summary>
    public async Task RunWithLoadProgressAsync(Func<Task> body)
    {
        if (!IsRich)
        {
            await body();
            return;
        }

        await _console.Progress()
            .AutoClear(false)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .StartAsync(async context =>
            {
                lock (_lock)
                {
                    _progress = context;
                    _bars.Clear();
                }

                try
                {
                    await body();
                }
                finally
                {
                    lock (_lock)
                    {
                        _progress = null;
                        foreach (var bar in _bars.Values.Where(b => !b.IsFinished))
                        {
                            bar.StopTask();
                        }
                    }
                }
            });
    }

    /// <summary>Shows a load's progress: a live bar inside <see cref="RunWithLoadProgressAsync"/>, else a line when it starts and ends.</summary>
    public void LoadProgress(ModelLoadProgress progress)
    {
        var name = progress.ModelName;
        lock (_lock)
        {
            if (_progress is { } context)
            {
                if (!_bars.TryGetValue(name, out var bar) || (bar.IsFinished && progress.Progress < 1))
                {
                    bar = context.AddTask($"load [bold]{Esc(name)}[/]", maxValue: 1);
                    _bars[name] = bar;
                }

                bar.Value = progress.Progress;
                if (progress.Progress >= 1)
                {
                    bar.StopTask();
                }

                return;
            }

            if (!_loadsInFlight.TryGetValue(name, out var started))
            {
                started = Stopwatch.GetTimestamp();
                _loadsInFlight[name] = started;
                if (progress.Progress < 1)
                {
                    _console.MarkupLine(ProgressLine(name, progress.Progress, null));
                }
            }

            if (progress.Progress >= 1)
            {
                _loadsInFlight.Remove(name);
                _console.MarkupLine(ProgressLine(name, 1, Stopwatch.GetElapsedTime(started)));
            }
        }
    }

    /// <summary>Writes one model event as a colored line: what happened, to which model, why and how many bytes.</summary>
    public void ModelEvent(ModelEventArgs e)
    {
        var (word, color) = e.Kind switch
        {
            ModelEventKind.Loaded => ("LOADED", "green"),
            ModelEventKind.Evicted => ("EVICTED", "yellow"),
            ModelEventKind.Unloaded => ("UNLOADED", "grey"),
            ModelEventKind.LoadFailed => ("FAILED", "red"),
            ModelEventKind.FallbackUsed => ("FALLBACK", "fuchsia"),
            _ => (e.Kind.ToString().ToUpperInvariant(), "white"),
        };
        var subject = e.Kind == ModelEventKind.FallbackUsed ? $"{e.ModelName} -> {e.Detail}" : e.ModelName;
        var detail = e.Kind switch
        {
            ModelEventKind.Loaded => $"{FormatMb(e.Bytes)} in memory",
            ModelEventKind.Evicted or ModelEventKind.Unloaded => $"reason={e.Reason}, freed {FormatMb(e.Bytes)}",
            ModelEventKind.LoadFailed => Describe(e.Exception),
            ModelEventKind.FallbackUsed => $"{e.Detail} served instead of {e.ModelName}" + (e.Exception is null ? "" : $" ({Describe(e.Exception)})"),
            _ => e.ToString(),
        };

        lock (_lock)
        {
            if (e.Kind == ModelEventKind.LoadFailed)
            {
                _loadsInFlight.Remove(e.ModelName);
                if (_bars.TryGetValue(e.ModelName, out var bar) && !bar.IsFinished)
                {
                    bar.Description = $"[red]load {Esc(e.ModelName)} failed[/]";
                    bar.StopTask();
                }
            }

            _console.MarkupLine($"  [grey]{Elapsed()}[/] [{color}]{word,-8}[/] [bold]{Esc(subject)}[/]  {Esc(detail)}");
        }
    }

    /// <summary>Writes what an agent produced and which model served it.</summary>
    public void AgentResult(AgentResult result)
    {
        var text = result.Text.ReplaceLineEndings(" ").Trim();
        if (text.Length > 90)
        {
            text = text[..87] + "...";
        }

        var tokens = $"{result.PromptTokens?.ToString(CultureInfo.InvariantCulture) ?? "?"}+{result.GeneratedTokens?.ToString(CultureInfo.InvariantCulture) ?? "?"} tok" +
                     (result.Truncated ? ", cut" : "");
        MarkupLine($"  [grey]{Elapsed()}[/] [aqua]{result.Agent,-20}[/] <- [bold]{Esc(result.Model)}[/]" +
               $" [grey]{result.Duration.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)} s, {tokens}[/]  \"{Esc(text)}\"");
    }

    /// <summary>The final table: every model's counters from <see cref="IModelManager.GetModelStats"/>.</summary>
    public void StatsTable(IReadOnlyDictionary<string, ModelStats> stats)
    {
        var rows = stats.Values.OrderBy(s => s.Priority).ThenBy(s => s.Name, StringComparer.Ordinal).Select(s => (IReadOnlyList<string>)
        [
            s.Name, s.Type, s.State.ToString(), N(s.Priority), N(s.LoadCount), N(s.EvictionCount), N(s.FailureCount), N(s.FallbackCount),
            N(s.AccessCount), s.MemoryUsageMb.ToString("F1", CultureInfo.InvariantCulture), FormatMb(s.EstimatedBytes, unit: false),
            FormatMb(s.ActualBytes, unit: false), s.LastLoadDuration is { } d ? d.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture) + " s" : "-",
        ]);
        Table("GetModelStats()",
            ["Model", "Type", "State", "Priority", "Loads", "Evictions", "Failures", "Fallbacks", "Calls", "Memory MB", "Estimated MB", "Actual MB", "Last load"],
            rows, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    }

    /// <summary>The budget and what each model holds, from <see cref="IModelManager.GetMemoryUsage"/>.</summary>
    public void MemoryTable(MemoryUsage usage)
    {
        var rows = usage.Models.OrderByDescending(m => m.Value.ChargedBytes).Select(m => (IReadOnlyList<string>)
        [
            m.Key, FormatMb(m.Value.ChargedBytes, unit: false), FormatMb(m.Value.EstimatedBytes, unit: false), FormatMb(m.Value.ActualBytes, unit: false),
        ]).ToList();
        rows.Add(["total", usage.TotalMb.ToString("F1", CultureInfo.InvariantCulture), "", ""]);
        rows.Add(["budget", usage.LimitMb.ToString("F1", CultureInfo.InvariantCulture), "", ""]);
        Table($"GetMemoryUsage(): {usage.UsedFraction.ToString("P0", CultureInfo.InvariantCulture)} of the budget in use",
            ["Model", "Charged MB", "Estimated MB", "Actual MB"], rows, 1, 2, 3);
    }

    /// <summary>Writes each check as PASS or FAIL.</summary>
    public void Checks(IEnumerable<(string Description, bool Passed)> checks)
    {
        foreach (var (description, passed) in checks)
        {
            MarkupLine(passed
                ? $"  [green]PASS[/]  {Esc(description)}"
                : $"  [red bold]FAIL[/]  {Esc(description)}");
        }
    }

    public static string FormatMb(long bytes, bool unit = true) =>
        (bytes / Mb).ToString("F1", CultureInfo.InvariantCulture) + (unit ? " MB" : "");

    private static string N(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Describe(Exception? e)
    {
        if (e is null)
        {
            return "";
        }

        var message = e.Message.ReplaceLineEndings(" ");
        if (e is ModelFormatException { FilePath.Length: > 0 } format)
        {
            message = message.Replace(format.FilePath, Path.GetFileName(format.FilePath), StringComparison.Ordinal);
        }

        return $"{e.GetType().Name}: {(message.Length > 120 ? message[..117] + "..." : message)}";
    }

    /// <summary>Text escaped for Spectre markup.</summary>
    public static string Esc(string text) => Markup.Escape(text);

    /// <summary>A full-width rule on a terminal; a fixed-width ASCII line in a log, which has no width.</summary>
    private void WriteRule(string markup, string text, string color, char plain)
    {
        if (IsRich)
        {
            _console.Write(new Rule(markup).RuleStyle(color).LeftJustified());
        }
        else
        {
            _console.WriteLine($"{plain}{plain} {text} {new string(plain, Math.Max(3, 100 - text.Length))}");
        }
    }

    private string Elapsed() => "+" + Stopwatch.GetElapsedTime(_started).TotalSeconds.ToString("00.00", CultureInfo.InvariantCulture) + "s";

    private string ProgressLine(string model, double fraction, TimeSpan? took)
    {
        const int width = 20;
        var filled = (int)Math.Round(fraction * width);
        var bar = new string('#', filled) + new string('.', width - filled);
        var percent = (fraction * 100).ToString("0", CultureInfo.InvariantCulture).PadLeft(3);
        var suffix = took is { } t ? $"  loaded in {t.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture)} s" : "";
        return $"  [grey]{Elapsed()}[/] [blue]{"LOAD",-8}[/] [bold]{Esc(model)}[/]  [blue][[{bar}]][/] {percent}%{suffix}";
    }

    private Table NewTable(string? title)
    {
        var table = new Table().Border(IsRich ? TableBorder.Rounded : TableBorder.Ascii).BorderColor(Color.Grey);
        if (title is not null)
        {
            table.Title($"[bold]{Esc(title)}[/]");
        }

        return table;
    }
}
