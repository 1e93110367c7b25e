using System.Text.RegularExpressions;

namespace ModelManager.IntegrationTests.Packaging;

/// <summary>The README's Quick start, as printed, in a fresh app outside the repository that consumes the packed packages.</summary>
[Collection(PackagingGroup.Name)]
public sealed partial class QuickStartTests(PackedPackages packages)
{
    private static readonly string[] QuickStartFiles = ["MyApp.csproj", "config.json", "Program.cs"];

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task QuickStart_FreshAppFromPackedPackages_BuildsRunsAndPrintsWhatTheAgentGenerated()
    {
        string model = SharedModels.Stories260K;
        var files = ReadQuickStart(Path.Combine(packages.RepositoryRoot, "README.md"));

        string app = Path.Combine(packages.Root, "MyApp");
        Directory.CreateDirectory(Path.Combine(app, "models"));
        foreach (var (name, code) in files)
        {
            string text = code;
            if (name == "MyApp.csproj")
            {
                // The README names the release version; the test installs the packages it just packed.
                text = ModelManagerPackageVersion().Replace(code, m => m.Groups["head"].Value + packages.Version + "\"");
                Assert.NotEqual(code, text);
            }

            await File.WriteAllTextAsync(Path.Combine(app, name), text);
        }

        File.Copy(model, Path.Combine(app, "models", "stories260K.gguf"));
        await File.WriteAllTextAsync(Path.Combine(app, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{packages.Feed}" />
                <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
              </packageSources>
            </configuration>
            """);

        await DotnetCli.RunSucceedingAsync(app, "build", "-c", "Release");
        string output = Path.Combine(app, "bin", "Release", "net10.0");
        Assert.True(File.Exists(Path.Combine(output, "config.json")), "config.json was not copied to the output folder");

        string printed = await DotnetCli.RunSucceedingAsync(output, "MyApp.dll");

        var line = AgentLine().Match(printed);
        Assert.True(line.Success, $"the app printed no 'CodebaseExpertAgent: ...' line:\n{printed}");
        string generated = line.Groups["text"].Value;
        Assert.True(Regex.Count(generated, @"\p{L}+") >= 3, $"the agent generated too little: '{generated}'\n{printed}");
    }

    [Fact]
    public void ReadQuickStart_Readme_HasTheThreeFilesOfAnApp()
    {
        var files = ReadQuickStart(Path.Combine(packages.RepositoryRoot, "README.md"));

        Assert.Equal(QuickStartFiles, files.Keys);
        Assert.Contains("<PackageReference Include=\"Microsoft.Extensions.Hosting\"", files["MyApp.csproj"], StringComparison.Ordinal);
        Assert.Contains("CopyToOutputDirectory", files["MyApp.csproj"], StringComparison.Ordinal);
        Assert.Contains("using Microsoft.Extensions.Hosting;", files["Program.cs"], StringComparison.Ordinal);
    }

    /// <summary>The code blocks that follow a <c>&lt;!-- quickstart:FILE --&gt;</c> marker, by file name, in README order.</summary>
    private static Dictionary<string, string> ReadQuickStart(string readmePath)
    {
        string readme = File.ReadAllText(readmePath).ReplaceLineEndings("\n");
        var files = new Dictionary<string, string>();
        foreach (Match m in QuickStartBlock().Matches(readme))
        {
            Assert.True(files.TryAdd(m.Groups["file"].Value, m.Groups["code"].Value + "\n"), $"README.md marks {m.Groups["file"].Value} twice");
        }

        Assert.True(files.Count == QuickStartFiles.Length, $"README.md has {files.Count} quickstart blocks, expected {string.Join(", ", QuickStartFiles)}");
        return files;
    }

    [GeneratedRegex(@"<!-- quickstart:(?<file>[\w.]+) -->\n```\w*\n(?<code>.*?)\n```", RegexOptions.Singleline)]
    private static partial Regex QuickStartBlock();

    [GeneratedRegex(@"(?<head>Include=""ModelManager[\w.]*"" Version="")[^""]*""")]
    private static partial Regex ModelManagerPackageVersion();

    [GeneratedRegex(@"(?m)^CodebaseExpertAgent: (?<text>.+)$")]
    private static partial Regex AgentLine();
}
