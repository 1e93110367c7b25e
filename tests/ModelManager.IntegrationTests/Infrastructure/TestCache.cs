namespace ModelManager.IntegrationTests;

/// <summary>Where synthesized models are cached across test runs, and scratch folders for one test.</summary>
internal static class TestCache
{
    /// <summary>The shared cache of synthesized models (reused across runs; safe to delete).</summary>
    public static string Directory { get; } = Path.Combine(Path.GetTempPath(), "modelmanager-tests");

    /// <summary>The cached synthetic model for <paramref name="options"/>, written on first use.</summary>
    public static string Model(SyntheticGgufOptions options) => SyntheticGgufWriter.GetOrCreate(Directory, options);

    /// <summary>A new empty folder for one test's files; the caller deletes it.</summary>
    public static string NewScratchDirectory()
    {
        string path = Path.Combine(Directory, "scratch", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>A writable copy of the files of <paramref name="folder"/> (a read-only shared model, say) in a new scratch folder, for tests that remove or alter files.</summary>
    public static string CopyToScratch(string folder)
    {
        var dir = NewScratchDirectory();
        foreach (var file in System.IO.Directory.GetFiles(folder))
        {
            var target = Path.Combine(dir, Path.GetFileName(file));
            File.Copy(file, target);
            File.SetAttributes(target, FileAttributes.Normal);
        }

        return dir;
    }
}
