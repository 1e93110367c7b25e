namespace AgentHost;

/// <summary>The sample's command line.</summary>
public sealed record AgentHostOptions
{
    public const string Usage = """
        usage: AgentHost [--scenario full|short] [--config PATH] [--backend gguf|fake] [--cache-dir DIR] [--no-color] [--verbose]

          (no arguments)     run the scripted demo on stories260K (from ../shared/models) and synthetic GGUF models
          --scenario short   the same demo with small models and short waits (for CI, under 30 s)
          --config PATH      run the agents of your own config.json instead, then print the stats
          --backend fake     demo on the fake backend (no native llama.cpp; models are plain memory blocks)
          --cache-dir DIR    where synthetic models are cached (default $XDG_CACHE_HOME/modelmanager/agenthost)
          --no-color         plain text, no colors or live progress bars (also when output is redirected or NO_COLOR is set)
          --verbose          also print the manager's log (Information and up) to the console
        """;

    /// <summary>"full" (default) or "short".</summary>
    public string Scenario { get; init; } = "full";

    /// <summary>A user's config.json; null runs the generated demo.</summary>
    public string? ConfigPath { get; init; }

    /// <summary>"gguf" (default: LLamaSharp) or "fake" (ModelManager.Testing's fake backend).</summary>
    public string Backend { get; init; } = "gguf";

    /// <summary>Where synthetic GGUF models are cached; null for the default.</summary>
    public string? CacheDirectory { get; init; }

    public bool NoColor { get; init; }

    public bool Verbose { get; init; }

    public bool Help { get; init; }

    public bool IsShort => Scenario == "short";

    /// <summary>Parses <paramref name="args"/>; returns null and an error message when they are malformed.</summary>
    public static AgentHostOptions? Parse(IReadOnlyList<string> args, out string? error)
    {
        var options = new AgentHostOptions();
        error = null;
        try
        {
            for (var i = 0; i < args.Count; i++)
            {
                var arg = args[i];

                // The option's value: the next argument, unless that is an option itself.
                string? Value() => i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : null;
                options = arg switch
                {
                    "--scenario" => options with { Scenario = OneOf(arg, Value(), "full", "short") },
                    "--config" => options with { ConfigPath = Value() ?? throw new FormatException("--config expects the path of a config.json") },
                    "--backend" => options with { Backend = OneOf(arg, Value(), "gguf", "fake") },
                    "--cache-dir" => options with { CacheDirectory = Value() ?? throw new FormatException("--cache-dir expects a folder") },
                    "--no-color" => options with { NoColor = true },
                    "--verbose" => options with { Verbose = true },
                    "-h" or "--help" or "-?" => options with { Help = true },
                    _ => throw new FormatException($"unknown argument '{arg}'"),
                };
            }
        }
        catch (FormatException e)
        {
            error = e.Message;
            return null;
        }

        return options;
    }

    private static string OneOf(string option, string? value, string first, string second) =>
        value == first || value == second ? value : throw new FormatException($"{option} expects '{first}' or '{second}', got '{value}'");
}
