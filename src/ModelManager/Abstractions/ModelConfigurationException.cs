namespace ModelManager;

/// <summary>The configuration is invalid; <see cref="Errors"/> lists every problem, each naming its JSON path.</summary>
public sealed class ModelConfigurationException : Exception
{
    /// <summary>Creates the exception from the full list of errors (and warnings, for context).</summary>
    public ModelConfigurationException(IReadOnlyList<string> errors, IReadOnlyList<string>? warnings = null, string? source = null)
        : base(Compose(errors, source))
    {
        Errors = errors;
        Warnings = warnings ?? [];
        Source = source;
    }

    /// <summary>Every validation error, e.g. <c>models[2].memory_priority: 7 is outside 1..5</c>.</summary>
    public IReadOnlyList<string> Errors { get; }

    /// <summary>Warnings found alongside the errors (unknown keys and the like).</summary>
    public IReadOnlyList<string> Warnings { get; }

    /// <summary>The file or section the configuration came from, when known.</summary>
    public new string? Source { get; }

    private static string Compose(IReadOnlyList<string> errors, string? source)
    {
        var head = source is null ? "Invalid model configuration" : $"Invalid model configuration in {source}";
        return $"{head} ({errors.Count} error{(errors.Count == 1 ? "" : "s")}):{Environment.NewLine}  " +
               string.Join(Environment.NewLine + "  ", errors);
    }
}
