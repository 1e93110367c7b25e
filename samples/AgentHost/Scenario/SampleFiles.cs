namespace AgentHost;

/// <summary>Where the sample finds the shared test models and keeps its synthetic models and generated configs.</summary>
public static class SampleFiles
{
    /// <summary>Finds <paramref name="relativePath"/> under <c>shared/models</c> or <c>../shared/models</c>, walking up from the current folder and from the app's folder.</summary>
    public static string? FindSharedModel(string relativePath)
    {
        foreach (var start in new[] { Environment.CurrentDirectory, AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                foreach (var models in new[] { Path.Combine(dir.FullName, "shared", "models"), Path.Combine(dir.FullName, "..", "shared", "models") })
                {
                    var candidate = Path.Combine(models, relativePath);
                    if (File.Exists(candidate))
                    {
                        return Path.GetFullPath(candidate);
                    }
                }
            }
        }

        return null;
    }

    /// <summary>The default cache of synthetic models: <c>$XDG_CACHE_HOME/modelmanager/agenthost</c>, else <c>~/.cache/modelmanager/agenthost</c>.</summary>
    public static string DefaultCacheDirectory()
    {
        var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (!string.IsNullOrEmpty(xdg))
        {
            return Path.Combine(xdg, "modelmanager", "agenthost");
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        return OperatingSystem.IsWindows() || string.IsNullOrEmpty(home)
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData), "modelmanager", "agenthost")
            : Path.Combine(home, ".cache", "modelmanager", "agenthost");
    }

    /// <summary>A new folder for one run's generated config and corrupt model; folders of runs older than a day are removed.</summary>
    public static string NewRunDirectory()
    {
        var root = Path.Combine(Path.GetTempPath(), "modelmanager-agenthost");
        Directory.CreateDirectory(root);
        foreach (var old in new DirectoryInfo(root).EnumerateDirectories("run-*"))
        {
            if (old.CreationTimeUtc < DateTime.UtcNow.AddDays(-1))
            {
                try
                {
                    old.Delete(recursive: true);
                }
                catch (IOException)
                {
                    // Another run may still use it; it goes next time.
                }
                catch (UnauthorizedAccessException)
                {
                }
            }
        }

        var run = Path.Combine(root, $"run-{DateTime.Now:yyyyMMdd-HHmmss}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}");
        Directory.CreateDirectory(run);
        return run;
    }

    /// <summary>Writes a file that starts like a model but has the wrong magic bytes, so the GGUF reader rejects it.</summary>
    public static string WriteCorruptGguf(string path)
    {
        var bytes = new byte[64 * 1024];
        "GGUX"u8.CopyTo(bytes); // GGUF files start with "GGUF"
        new Random(42).NextBytes(bytes.AsSpan(4));
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
