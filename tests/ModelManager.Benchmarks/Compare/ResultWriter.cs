using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Spectre.Console;

namespace ModelManager.Benchmarks.Compare;

/// <summary>Writes the comparisons as benchmark-results.json, as a Markdown table, and as a Spectre.Console table.</summary>
internal static class ResultWriter
{
    public const string JsonFileName = "benchmark-results.json";
    public const string MarkdownFileName = "benchmark-results.md";

    /// <summary>One object per comparison: name, baseline, candidate, unit, medians, ratio, runs, spread, target.</summary>
    public static void WriteJson(string path, IReadOnlyList<Comparison> comparisons)
    {
        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartArray();
        foreach (var c in comparisons)
        {
            json.WriteStartObject();
            json.WriteString("name", c.Name);
            json.WriteString("baseline", c.Baseline);
            json.WriteString("candidate", c.Candidate);
            json.WriteString("unit", c.Unit);
            json.WriteNumber("baseline_median", Round(c.BaselineMedian));
            json.WriteNumber("candidate_median", Round(c.CandidateMedian));
            json.WriteNumber("ratio", Math.Round(c.Ratio, 4));
            json.WriteNumber("runs", c.Runs);
            json.WriteNumber("baseline_min", Round(Stats.Min(c.BaselineSamples)));
            json.WriteNumber("baseline_max", Round(Stats.Max(c.BaselineSamples)));
            json.WriteNumber("candidate_min", Round(Stats.Min(c.CandidateSamples)));
            json.WriteNumber("candidate_max", Round(Stats.Max(c.CandidateSamples)));
            json.WriteNumber("baseline_spread_pct", Math.Round(Stats.SpreadPercent(c.BaselineSamples), 2));
            json.WriteNumber("candidate_spread_pct", Math.Round(Stats.SpreadPercent(c.CandidateSamples), 2));
            json.WriteBoolean("higher_is_better", c.HigherIsBetter);
            if (c.Target is { } target)
            {
                json.WriteNumber("target_ratio", target);
                json.WriteBoolean("target_met", c.TargetMet == true);
            }
            else
            {
                json.WriteNull("target_ratio");
                json.WriteNull("target_met");
            }

            json.WriteStartArray("baseline_samples");
            foreach (var s in c.BaselineSamples)
            {
                json.WriteNumberValue(Round(s));
            }

            json.WriteEndArray();
            json.WriteStartArray("candidate_samples");
            foreach (var s in c.CandidateSamples)
            {
                json.WriteNumberValue(Round(s));
            }

            json.WriteEndArray();
            json.WriteString("notes", c.Notes);
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    /// <summary>The Markdown table, headed by the machine, the load average and the command.</summary>
    public static string Markdown(IReadOnlyList<Comparison> comparisons, MachineInfo machine, string loadBefore, string loadAfter, string command, DateTimeOffset when, bool quick)
    {
        var md = new StringBuilder();
        if (quick)
        {
            md.AppendLine("**Quick mode** (CI): one cold run per pair on tiny models, no warm-up; it proves the runner works, its ratios mean nothing.");
            md.AppendLine();
        }

        md.AppendLine(CultureInfo.InvariantCulture, $"Measured {when:yyyy-MM-dd HH:mm} UTC on {machine}; load average (1, 5, 15 min) {loadBefore} before, {loadAfter} after.");
        md.AppendLine(CultureInfo.InvariantCulture, $"Command: `{command}`. Ratio = candidate median / baseline median; ± is half the range of the runs, relative to the median.");
        md.AppendLine();
        md.AppendLine("| comparison | baseline | candidate | unit | baseline median | candidate median | ratio | target | met | runs |");
        md.AppendLine("|---|---|---|---|---:|---:|---:|---|---|---:|");
        foreach (var c in comparisons)
        {
            md.AppendLine(CultureInfo.InvariantCulture,
                $"| {c.Name} | {c.Baseline} | {c.Candidate} | {c.Unit} | {Value(c.BaselineMedian)} ±{Stats.SpreadPercent(c.BaselineSamples):F0}% | {Value(c.CandidateMedian)} ±{Stats.SpreadPercent(c.CandidateSamples):F0}% | {c.Ratio:F3} | {c.TargetText} | {Met(c)} | {c.Runs} |");
        }

        return md.ToString();
    }

    public static Table Table(IReadOnlyList<Comparison> comparisons)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("[bold]ModelManager vs direct library calls[/]");
        table.AddColumn("comparison");
        table.AddColumn("unit");
        table.AddColumn(new TableColumn("baseline").RightAligned());
        table.AddColumn(new TableColumn("candidate").RightAligned());
        table.AddColumn(new TableColumn("ratio").RightAligned());
        table.AddColumn("target");
        table.AddColumn("met");
        table.AddColumn(new TableColumn("runs").RightAligned());
        foreach (var c in comparisons)
        {
            var met = c.TargetMet switch { true => "[green]yes[/]", false => "[red]no[/]", null => "" };
            table.AddRow(
                Markup.Escape(c.Name),
                Markup.Escape(c.Unit),
                $"{Value(c.BaselineMedian)} ±{Stats.SpreadPercent(c.BaselineSamples):F0}%",
                $"{Value(c.CandidateMedian)} ±{Stats.SpreadPercent(c.CandidateSamples):F0}%",
                c.Ratio.ToString("F3", CultureInfo.InvariantCulture),
                Markup.Escape(c.TargetText),
                met,
                c.Runs.ToString(CultureInfo.InvariantCulture));
        }

        return table;
    }

    private static string Met(Comparison c) => c.TargetMet switch { true => "yes", false => "**no**", null => "" };

    private static string Value(double v) => v switch
    {
        >= 1000 => v.ToString("F0", CultureInfo.InvariantCulture),
        >= 100 => v.ToString("F1", CultureInfo.InvariantCulture),
        _ => v.ToString("F2", CultureInfo.InvariantCulture),
    };

    private static double Round(double v) => Math.Round(v, 3);
}
