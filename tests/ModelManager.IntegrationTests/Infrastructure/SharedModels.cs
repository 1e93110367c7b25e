namespace ModelManager.IntegrationTests;

/// <summary>Finds the real test models in <c>shared/models</c> beside (or above) the repository.</summary>
internal static class SharedModels
{
    private static readonly Lazy<string?> Root = new(FindRoot);

    /// <summary>True when running under CI (CI=true), where a missing shared model is a failure, never a skip.</summary>
    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The <c>shared/models</c> folder, or null when it cannot be found.</summary>
    public static string? Directory => Root.Value;

    /// <summary>The stories260K GGUF (a 260K-parameter llama).</summary>
    public static string Stories260K => Require(Path.Combine("stories260K", "stories260K.gguf"));

    /// <summary>True when <paramref name="relativePath"/> exists under the shared models folder.</summary>
    public static bool Exists(string relativePath) => Directory is { } d && File.Exists(Path.Combine(d, relativePath));

    /// <summary>The full path of <paramref name="relativePath"/>; throws with a clear message when it is missing.</summary>
    public static string Require(string relativePath)
    {
        string? directory = Directory;
        string? path = directory is null ? null : Path.Combine(directory, relativePath);
        if (path is null || !File.Exists(path))
        {
            throw new FileNotFoundException(
                $"Shared test model '{relativePath}' not found: expected shared/models beside the repository (../shared/models from its root), searched upwards from {AppContext.BaseDirectory}.",
                path ?? relativePath);
        }

        return path;
    }

    private static string? FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            foreach (string candidate in new[] { Path.Combine(dir.FullName, "shared", "models"), Path.Combine(dir.FullName, "..", "shared", "models") })
            {
                if (System.IO.Directory.Exists(candidate))
                {
                    return Path.GetFullPath(candidate);
                }
            }
        }

        return null;
    }
}
