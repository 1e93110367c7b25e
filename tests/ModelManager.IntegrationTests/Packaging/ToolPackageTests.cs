using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace ModelManager.IntegrationTests.Packaging;

/// <summary>The <c>modelmanager</c> tool as a user gets it: a tool package that <c>dotnet tool install</c> takes, whose command runs on a real model.</summary>
[Collection(PackagingGroup.Name)]
public sealed class ToolPackageTests(PackedPackages packages)
{
    [Fact]
    public void Nupkg_IsADotnetToolNamedModelmanager_WithItsReadme()
    {
        using var zip = ZipFile.OpenRead(packages.PackagePath(PackedPackages.ToolId));
        var nuspec = XDocument.Parse(Read(zip, PackedPackages.ToolId + ".nuspec"));
        var packageType = nuspec.Descendants().Single(e => e.Name.LocalName == "packageType");
        Assert.Equal("DotnetTool", (string?)packageType.Attribute("name"));
        Assert.Equal("MIT", nuspec.Descendants().Single(e => e.Name.LocalName == "license").Value);

        var settings = XDocument.Parse(Read(zip, "tools/net10.0/any/DotnetToolSettings.xml"));
        var command = settings.Descendants().Single(e => e.Name.LocalName == "Command");
        Assert.Equal("modelmanager", (string?)command.Attribute("Name"));
        Assert.Equal("ModelManager.Cli.dll", (string?)command.Attribute("EntryPoint"));

        // The tool runs models itself: the native runtimes travel with it.
        Assert.Contains(zip.Entries, e => e.FullName.EndsWith("/libllama.so", StringComparison.Ordinal));
        Assert.Contains(zip.Entries, e => e.FullName.EndsWith("/libonnxruntime-genai.so", StringComparison.Ordinal));
        Assert.StartsWith($"# {PackedPackages.ToolId}\n", Read(zip, "README.md").ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("dotnet tool install -g ModelManager.Cli", Read(zip, "README.md"), StringComparison.Ordinal);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task ToolInstall_FromTheFeed_RunsModelmanagerOnStories260K()
    {
        var toolPath = Path.Combine(packages.Root, "tools");
        await DotnetCli.RunSucceedingAsync(packages.Root,
            "tool", "install", PackedPackages.ToolId, "--tool-path", toolPath, "--add-source", packages.Feed, "--version", packages.Version);

        var (code, output, error) = await RunAsync(Path.Combine(toolPath, "modelmanager"), "inspect", SharedModels.Stories260K, "--json");
        Assert.True(code == 0, $"modelmanager exited {code}: {error}");
        var facts = JsonNode.Parse(output)!["facts"]!;
        Assert.Equal("llama", (string)facts["architecture"]!);

        var (bad, message, _) = await RunAsync(Path.Combine(toolPath, "modelmanager"), "validate", Path.Combine(packages.Root, "absent.json"));
        Assert.Equal(1, bad);
        Assert.Contains("configuration file not found", message, StringComparison.Ordinal);
    }

    private static string Read(ZipArchive zip, string name)
    {
        using var stream = (zip.GetEntry(name) ?? throw new Xunit.Sdk.XunitException($"package has no {name}")).Open();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd().TrimStart('\uFEFF');
    }

    /// <summary>Runs the installed command; the shim finds the runtime through DOTNET_ROOT, set to the one running these tests.</summary>
    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string executable, params string[] arguments)
    {
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // .../shared/Microsoft.NETCore.App/<version>/System.Private.CoreLib.dll → the dotnet root, three folders up.
        start.Environment["DOTNET_ROOT"] = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2)); // a hang guard, not a measurement
        await process.WaitForExitAsync(guard.Token);
        return (process.ExitCode, await output, await error);
    }
}
