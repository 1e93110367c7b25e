namespace ModelManager;

/// <summary>The integration guide's helper functions in C# form.</summary>
public static class ModelManagerExtensions
{
    /// <summary>Returns an adapter whose <c>Model</c> property loads lazily (the guide's phase-1 migration).</summary>
    public static ModelAdapter CreateModelAdapter(this IModelManager manager, string agentName) => new(manager, agentName);

    /// <summary>Returns the <c>get_llm_for_memos</c> configuration of the managed model whose type and path match.</summary>
    /// <exception cref="ModelNotFoundException">No managed model has that type and path.</exception>
    public static LlmConfig GetLlmConfig(this IModelManager manager, string backend, string modelPath)
    {
        ArgumentNullException.ThrowIfNull(manager);
        ArgumentException.ThrowIfNullOrEmpty(backend);
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        var models = manager.GetModels();
        var match = models.FirstOrDefault(m => TypeMatches(m, backend) && PathMatches(m, modelPath))
                    ?? models.FirstOrDefault(m => TypeMatches(m, backend) && string.Equals(m.Name, modelPath, StringComparison.Ordinal));
        if (match is null)
        {
            throw new ModelNotFoundException(modelPath,
                $"No managed model of type '{backend}' has path '{modelPath}'. Models of that type: " +
                string.Join(", ", models.Where(m => TypeMatches(m, backend)).Select(m => $"'{m.Name}' ({m.Path})").DefaultIfEmpty("(none)")));
        }

        return new LlmConfig(backend, new LlmModelConfig(match.Path ?? match.Name, match.Parameters.Temperature, match.Parameters.MaxTokens));
    }

    private static bool TypeMatches(ModelDescriptor m, string backend) =>
        string.Equals(m.Type, backend, StringComparison.OrdinalIgnoreCase)
        || (ModelConfigurationValidator.KnownTypes.TryGetValue(backend, out var call)
            && ModelConfigurationValidator.KnownTypes.TryGetValue(m.Type, out var own) && call == own);

    private static bool PathMatches(ModelDescriptor m, string path)
    {
        if (m.Path is null)
        {
            return false;
        }

        var own = Normalize(m.Path);
        if (own == Normalize(path) || own == Normalize(Path.GetFullPath(path)))
        {
            return true;
        }

        // The guide passes paths relative to the app ("./smollm"); the config resolves them against its own folder.
        var relative = Normalize(path);
        relative = relative.StartsWith("./", StringComparison.Ordinal) ? relative[2..] : relative;
        return !Path.IsPathRooted(path) && !relative.StartsWith("../", StringComparison.Ordinal) && own.EndsWith("/" + relative, StringComparison.Ordinal);
    }

    private static string Normalize(string path) => path.Replace('\\', '/').TrimEnd('/');
}
