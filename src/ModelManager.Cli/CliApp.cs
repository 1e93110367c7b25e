using System.CommandLine;

namespace ModelManager.Cli;

/// <summary>The <c>modelmanager</c> command line: estimate, inspect, validate, ps (status) and serve.</summary>
internal static class CliApp
{
    /// <summary>The tool's command (<c>ToolCommandName</c>).</summary>
    public const string CommandName = "modelmanager";

    /// <summary>Runs the tool; returns the exit code (0, 1 when it found errors, 2 for a bad command line).</summary>
    /// <param name="args">The command line.</param>
    /// <param name="output">Standard output: tables or JSON.</param>
    /// <param name="error">Standard error: one line per error.</param>
    /// <param name="terminal">Whether <paramref name="output"/> is a terminal (tables with colour and rounded borders) or a file or pipe (plain ASCII).</param>
    /// <param name="cancellationToken">Stops a running command (Ctrl+C is wired by System.CommandLine too).</param>
    public static Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, bool terminal = false, CancellationToken cancellationToken = default)
    {
        var common = new CliOptions(output, error, terminal);
        // A plain command as the root, so that help says "modelmanager" whatever the process is called (a tool runs as dotnet ModelManager.Cli.dll).
        var root = new Command(CommandName, "Size, inspect and validate models and configs, see what a ModelServer holds, and serve a config.")
        {
            new System.CommandLine.Help.HelpOption(),
            new VersionOption(),
            EstimateCommand.Create(common),
            InspectCommand.Create(common),
            ValidateCommand.Create(common),
            StatusCommand.Create(common, "ps"),
            StatusCommand.Create(common, "status"),
            ServeCommand.Create(common),
        };
        return root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }
}

/// <summary>Options every command shares, and the run wrapper that turns the library's typed errors into messages and exit codes.</summary>
internal sealed class CliOptions(TextWriter output, TextWriter error, bool terminal)
{
    /// <summary>Exit code of a run that found errors (a bad file, an invalid config, a server that refused).</summary>
    public const int Failed = 1;

    /// <summary><c>--json</c>: one JSON document for scripts instead of tables.</summary>
    public Option<bool> Json { get; } = new("--json") { Description = "Write one JSON document instead of tables" };

    /// <summary><c>--type</c>, for a model path whose type the name does not tell.</summary>
    public static Option<string?> TypeOption()
    {
        var option = new Option<string?>("--type") { Description = "The model type, when the path does not tell: gguf (a .gguf file) or huggingface (an ONNX folder)" };
        option.AcceptOnlyFromAmong("gguf", "huggingface", "onnx");
        return option;
    }

    /// <summary>Runs <paramref name="body"/> with the output and the library's backends; a typed error becomes a message on standard error and exit code 1.</summary>
    public async Task<int> RunAsync(ParseResult result, Func<CliOutput, LocalModels, Task<int>> body)
    {
        var writer = new CliOutput(output, error, result.GetValue(Json), terminal);
        await using var models = new LocalModels();
        try
        {
            return await body(writer, models).ConfigureAwait(false);
        }
        catch (ModelConfigurationException e)
        {
            foreach (var message in e.Errors)
            {
                writer.Error(message);
            }

            return Failed;
        }
        catch (Exception e) when (e is ModelLoadException or UnreadableFileException or NotSupportedException or IOException or UnauthorizedAccessException)
        {
            writer.Error(e.Message);
            return Failed;
        }
    }
}
