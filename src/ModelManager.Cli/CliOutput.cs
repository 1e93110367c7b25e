using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace ModelManager.Cli;

/// <summary>Where a command writes: Spectre tables on a terminal, the same tables in plain ASCII when redirected, or JSON with <c>--json</c>.</summary>
internal sealed class CliOutput
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private readonly TextWriter _out;
    private readonly TextWriter _error;

    public CliOutput(TextWriter output, TextWriter error, bool json, bool terminal)
    {
        _out = output;
        _error = error;
        Json = json;
        Terminal = terminal;
        Console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!terminal)
        {
            Console.Profile.Width = 200; // a file or pipe has no width; wide enough that tables never wrap
        }
    }

    /// <summary>True with <c>--json</c>: one JSON document on standard output and nothing else.</summary>
    public bool Json { get; }

    /// <summary>True when standard output is a terminal.</summary>
    public bool Terminal { get; }

    public IAnsiConsole Console { get; }

    /// <summary>A table in the output's style: rounded on a terminal, ASCII in a file.</summary>
    public Table Table(params string[] columns)
    {
        var table = new Table().Border(Terminal ? TableBorder.Rounded : TableBorder.Ascii);
        foreach (var column in columns)
        {
            table.AddColumn(new TableColumn(Markup.Escape(column)));
        }

        return table;
    }

    /// <summary>Right-aligns the columns at <paramref name="indexes"/> (numbers).</summary>
    public static Table RightAlign(Table table, params int[] indexes)
    {
        foreach (var i in indexes)
        {
            table.Columns[i].RightAligned();
        }

        return table;
    }

    public void Write(IRenderable renderable) => Console.Write(renderable);

    /// <summary>A line of plain text (never markup).</summary>
    public void Line(string text = "") => Console.WriteLine(text);

    public void WriteJson(JsonNode node) => _out.WriteLine(node.ToJsonString(Indented));

    /// <summary>An error line on standard error, whatever the format.</summary>
    public void Error(string message) => _error.WriteLine("error: " + message);

    /// <summary>Adds a row of plain strings (escaped, never markup).</summary>
    public static void Row(Table table, params string?[] cells) =>
        table.AddRow([.. cells.Select(c => (IRenderable)new Text(c ?? ""))]);

    /// <summary>Bytes as MB with one decimal, as the library's logs and ModelServer's status show them.</summary>
    public static string Mb(long bytes) => (bytes / (1024.0 * 1024)).ToString("0.0", CultureInfo.InvariantCulture);

    public static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
