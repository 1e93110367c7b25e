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
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            string? Value()
            {
                if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    return args[++i];
                }

                return null;
            }

            switch (arg)
            {
                case "--scenario":
                    var scenario = Value();
                    if (scenario is not ("full" or "short"))
                    {
                        error = $"--scenario expects 'full' or 'short', got '{scenario}'";
                        return null;
                    }

                    options = options with { Scenario = scenario };
                    break;
                case "--config":
                    var config = Value();
                    if (config is null)
                    {
                        error = "--config expects the path of a config.json";
                        return null;
                    }

                    options = options with { ConfigPath = config };
                    break;
                case "--backend":
                    var backend = Value();
                    if (backend is not ("gguf" or "fake"))
                    {
                        error = $"--backend expects 'gguf' or 'fake', got '{backend}'";
                        return null;
                    }

                    options = options with { Backend = backend };
                    break;
                case "--cache-dir":
                    var dir = Value();
                    if (dir is null)
                    {
                        error = "--cache-dir expects a folder";
                        return null;
                    }

                    options = options with { CacheDirectory = dir };
                    break;
                case "--no-color":
                    options = options with { NoColor = true };
                    break;
                case "--verbose":
                    options = options with { Verbose = true };
                    break;
                case "-h" or "--help" or "-?":
                    options = options with { Help = true };
                    break;
                default:
                    error = $"unknown argument '{arg}'";
                    return null;
            }
        }

        return options;
    }
}
