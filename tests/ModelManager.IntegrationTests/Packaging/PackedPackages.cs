using System.Reflection;

namespace ModelManager.IntegrationTests.Packaging;

/// <summary>The src/ packages packed once into a local feed folder, with a version of their own (0.1.0-ci.N) so no cached package stands in.</summary>
/// <remarks>
/// Packs the build that <c>dotnet test</c> just made (<c>--no-build</c>), except the tool: it is one package per platform,
/// and the solution's build makes none of those per-platform builds, so its pack builds them. Removes the feed and its
/// copies in the global packages folder afterwards.
/// </remarks>
public sealed class PackedPackages : IAsyncLifetime
{
    public static readonly string[] Ids = ["ModelManager", "ModelManager.LlamaSharp", "ModelManager.OnnxGenAI", "ModelManager.OpenAI", "ModelManager.Testing"];

    /// <summary>The <c>modelmanager</c> tool package, packed beside the libraries (a tool package: <c>tools/</c>, not <c>lib/</c>).</summary>
    public const string ToolId = "ModelManager.Cli";

    /// <summary>The platforms the tool ships a package for (<c>ToolPackageRuntimeIdentifiers</c>), each named <c>ModelManager.Cli.RID</c>.</summary>
    public static readonly string[] ToolRuntimeIdentifiers = ["linux-x64", "linux-arm64", "osx-arm64", "win-x64"];

    public string RepositoryRoot { get; } = FindRepositoryRoot();

    public string Version { get; } = $"0.1.0-ci.{DateTime.UtcNow:yyyyMMddHHmmss}{Environment.ProcessId}";

    public string Root { get; } = Path.Combine(Path.GetTempPath(), "modelmanager-packaging", Guid.NewGuid().ToString("N")[..12]);

    public string Feed => Path.Combine(Root, "feed");

    /// <summary>What each <c>dotnet pack</c> printed, to count warnings in.</summary>
    public Dictionary<string, string> PackOutput { get; } = [];

    public static string Configuration =>
        typeof(PackedPackages).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(Feed);
        foreach (string id in (string[])[.. Ids, ToolId])
        {
            string project = Path.Combine(RepositoryRoot, "src", id, id + ".csproj");
            string[] build = id == ToolId ? [] : ["--no-build"];
            PackOutput[id] = await DotnetCli.RunSucceedingAsync(RepositoryRoot,
                ["pack", project, "-c", Configuration, .. build, "-p:PackageVersion=" + Version, "-o", Feed]);
        }
    }

    public Task DisposeAsync()
    {
        TryDelete(Root);
        string globalPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (string id in (string[])[.. Ids, ToolId, .. ToolRuntimeIdentifiers.Select(rid => $"{ToolId}.{rid}")])
        {
            TryDelete(Path.Combine(globalPackages, id.ToLowerInvariant(), Version));
        }

        return Task.CompletedTask;
    }

    public string PackagePath(string id, string extension = ".nupkg") => Path.Combine(Feed, $"{id}.{Version}{extension}");

    private static void TryDelete(string path)
    {
        try
        {
            if (Directory.Exists(path))
            {
                Directory.Delete(path, recursive: true);
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static string FindRepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ModelManager.sln")))
            {
                return dir.FullName;
            }
        }

        throw new DirectoryNotFoundException($"ModelManager.sln not found above {AppContext.BaseDirectory}");
    }
}
