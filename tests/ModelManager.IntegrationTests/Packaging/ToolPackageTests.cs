using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;
using System.Xml.Linq;

namespace ModelManager.IntegrationTests.Packaging;

/// <summary>The <c>modelmanager</c> tool as a user gets it: a tool package that <c>dotnet tool install</c> takes, whose command runs on a real model.</summary>
[Collection(PackagingGroup.Name)]
public sealed class ToolPackageTests(PackedPackages packages)
{
    [Fact]
    public void Nupkg_IsADotnetToolNamedModelmanager_PointingAtOnePackagePerPlatform()
    {
        using var zip = ZipFile.OpenRead(packages.PackagePath(PackedPackages.ToolId));
        var nuspec = XDocument.Parse(Read(zip, PackedPackages.ToolId + ".nuspec"));
        var packageType = nuspec.Descendants().Single(e => e.Name.LocalName == "packageType");
        Assert.Equal("DotnetTool", (string?)packageType.Attribute("name"));
        Assert.Equal("MIT", nuspec.Descendants().Single(e => e.Name.LocalName == "license").Value);
        Assert.StartsWith($"# {PackedPackages.ToolId}\n", Read(zip, "README.md").ReplaceLineEndings("\n"), StringComparison.Ordinal);
        Assert.Contains("dotnet tool install -g ModelManager.Cli", Read(zip, "README.md"), StringComparison.Ordinal);

        // The package dotnet tool install asks for first names the command and, per platform, the package that holds it.
        var settings = XDocument.Parse(Read(zip, "tools/any/any/DotnetToolSettings.xml"));
        Assert.Equal("modelmanager", (string?)settings.Descendants().Single(e => e.Name.LocalName == "Command").Attribute("Name"));
        var platforms = settings.Descendants().Where(e => e.Name.LocalName == "RuntimeIdentifierPackage")
            .ToDictionary(e => (string)e.Attribute("RuntimeIdentifier")!, e => (string)e.Attribute("Id")!);
        Assert.Equal(PackedPackages.ToolRuntimeIdentifiers.Order(), platforms.Keys.Order());
        Assert.All(platforms, p => Assert.Equal($"{PackedPackages.ToolId}.{p.Key}", p.Value));
        Assert.DoesNotContain(zip.Entries, e => e.FullName.EndsWith(".dll", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("linux-x64", "libllama.so", "libonnxruntime-genai.so")]
    [InlineData("linux-arm64", "libllama.so", "libonnxruntime-genai.so")]
    [InlineData("osx-arm64", "libllama.dylib", "libonnxruntime-genai.dylib")]
    [InlineData("win-x64", "llama.dll", "onnxruntime-genai.dll")]
    public void PlatformNupkg_CarriesTheToolWithItsOwnPlatformsNativesOnly(string rid, string llama, string onnx)
    {
        string id = $"{PackedPackages.ToolId}.{rid}";
        string path = packages.PackagePath(id);
        using var zip = ZipFile.OpenRead(path);
        string tools = $"tools/net10.0/{rid}/";
        var command = XDocument.Parse(Read(zip, tools + "DotnetToolSettings.xml")).Descendants().Single(e => e.Name.LocalName == "Command");
        Assert.Equal("modelmanager", (string?)command.Attribute("Name"));
        Assert.Equal(rid.StartsWith("win-", StringComparison.Ordinal) ? "ModelManager.Cli.exe" : "ModelManager.Cli", (string?)command.Attribute("EntryPoint")); // the platform's apphost
        Assert.NotNull(zip.GetEntry(tools + "ModelManager.Cli.dll"));

        // llama.cpp's CPU builds for this platform (one per instruction set where it ships several), and ONNX Runtime GenAI's.
        var natives = zip.Entries.Where(e => e.Name == llama).Select(e => e.FullName).ToList();
        Assert.NotEmpty(natives);
        Assert.All(natives, n => Assert.StartsWith($"{tools}runtimes/{rid}/native/", n, StringComparison.Ordinal));
        Assert.NotNull(zip.GetEntry(tools + onnx));

        // Nothing of another platform: no other runtimes/ folder, no native library of another OS.
        var runtimes = zip.Entries.Where(e => e.FullName.StartsWith(tools + "runtimes/", StringComparison.Ordinal))
            .Select(e => e.FullName[(tools.Length + "runtimes/".Length)..].Split('/')[0]).Distinct();
        Assert.Equal([rid], runtimes);
        string[] foreign = rid.StartsWith("win-", StringComparison.Ordinal) ? [".so", ".dylib"] : rid.StartsWith("osx-", StringComparison.Ordinal) ? [".so", "onnxruntime.dll"] : [".dylib", "onnxruntime.dll"];
        Assert.DoesNotContain(zip.Entries, e => foreign.Any(f => e.Name.EndsWith(f, StringComparison.Ordinal) || e.Name.Contains(f + ".", StringComparison.Ordinal)));

        // The one package that held every platform's natives was 318 MB; one platform's is a fraction of it.
        long megabytes = new FileInfo(path).Length >> 20;
        Assert.True(megabytes < 64, $"{id} is {megabytes} MB");
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task ToolInstall_FromTheFeed_RunsModelmanagerOnStories260K()
    {
        var toolPath = Path.Combine(packages.Root, "tools");
        await DotnetCli.RunSucceedingAsync(packages.Root,
            "tool", "install", PackedPackages.ToolId, "--tool-path", toolPath, "--add-source", packages.Feed, "--version", packages.Version);
        string modelmanager = Path.Combine(toolPath, "modelmanager");

        var (code, output, error) = await RunAsync(modelmanager, "inspect", SharedModels.Stories260K, "--json");
        Assert.True(code == 0, $"modelmanager exited {code}: {error}");
        var facts = JsonNode.Parse(output)!["facts"]!;
        Assert.Equal("llama", (string)facts["architecture"]!);

        var (bad, message, _) = await RunAsync(modelmanager, "validate", Path.Combine(packages.Root, "absent.json"));
        Assert.Equal(1, bad);
        Assert.Contains("configuration file not found", message, StringComparison.Ordinal);
    }

    [SharedModelFact("stories260K/stories260K.gguf", "tiny-random-gpt2-fp32/genai_config.json")]
    public async Task ToolInstall_Serve_RunsAGgufAndAnOnnxModelOnTheNativesOfItsPlatformPackage()
    {
        var toolPath = Path.Combine(packages.Root, "tools-serve");
        await DotnetCli.RunSucceedingAsync(packages.Root,
            "tool", "install", PackedPackages.ToolId, "--tool-path", toolPath, "--add-source", packages.Feed, "--version", packages.Version);
        // The command is the apphost of this platform's package, which the pointer package named.
        string rid = RuntimeInformation.RuntimeIdentifier;
        string command = Path.Combine(toolPath, "modelmanager");
        Assert.Contains($"/{PackedPackages.ToolId}.{rid}/".ToLowerInvariant(), new FileInfo(command).LinkTarget ?? "(not a link)", StringComparison.Ordinal);

        string config = Path.Combine(packages.Root, "serve.json");
        await File.WriteAllTextAsync(config, $$"""
            { "max_memory_mb": 512, "models": [
              { "name": "stories", "type": "gguf", "path": "{{SharedModels.Stories260K}}", "context_length": 256 },
              { "name": "gpt2", "type": "huggingface", "path": "{{Path.GetDirectoryName(SharedModels.Require(Path.Combine("tiny-random-gpt2-fp32", "genai_config.json")))}}", "context_length": 128 } ] }
            """);
        using var server = Start(command, "serve", "--config", config, "--urls", "http://127.0.0.1:0");
        try
        {
            string url = await ListeningUrlAsync(server);
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) }; // a hang guard
            foreach (var (model, prompt) in new[] { ("stories", "Once upon a time"), ("gpt2", OnnxManagers.Prompt) })
            {
                using var response = await http.PostAsync("/v1/completions", new StringContent(
                    $$"""{ "model": "{{model}}", "prompt": "{{prompt}}", "max_tokens": 4, "temperature": 0 }""", Encoding.UTF8, "application/json"));
                string body = await response.Content.ReadAsStringAsync();
                Assert.True(response.IsSuccessStatusCode, $"{model}: {(int)response.StatusCode} {body}");
                var completion = JsonNode.Parse(body)!;
                Assert.Equal(4, (int)completion["usage"]!["completion_tokens"]!);
                Assert.Equal("length", (string)completion["choices"]![0]!["finish_reason"]!);
            }
        }
        finally
        {
            server.Kill(entireProcessTree: true);
            await server.WaitForExitAsync();
        }
    }

    /// <summary>Reads the server's log until Kestrel names the address it bound (port 0: one the OS chose).</summary>
    private static async Task<string> ListeningUrlAsync(Process server)
    {
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2)); // a hang guard, not a measurement
        var seen = new StringBuilder();
        while (await server.StandardOutput.ReadLineAsync(guard.Token) is { } line)
        {
            seen.AppendLine(line);
            int at = line.IndexOf("Now listening on: ", StringComparison.Ordinal);
            if (at >= 0)
            {
                return line[(at + "Now listening on: ".Length)..].Trim();
            }
        }

        throw new Xunit.Sdk.XunitException($"the server exited without listening:\n{seen}{await server.StandardError.ReadToEndAsync(guard.Token)}");
    }

    private static string Read(ZipArchive zip, string name)
    {
        using var stream = (zip.GetEntry(name) ?? throw new Xunit.Sdk.XunitException($"package has no {name}")).Open();
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd().TrimStart('\uFEFF');
    }

    /// <summary>Runs the installed command to its end.</summary>
    private static async Task<(int ExitCode, string Output, string Error)> RunAsync(string executable, params string[] arguments)
    {
        using var process = Start(executable, arguments);
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var guard = new CancellationTokenSource(TimeSpan.FromMinutes(2)); // a hang guard, not a measurement
        await process.WaitForExitAsync(guard.Token);
        return (process.ExitCode, await output, await error);
    }

    /// <summary>Starts the installed command; the shim finds the runtime through DOTNET_ROOT, set to the one running these tests.</summary>
    private static Process Start(string executable, params string[] arguments)
    {
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // .../shared/Microsoft.NETCore.App/<version>/System.Private.CoreLib.dll → the dotnet root, three folders up.
        start.Environment["DOTNET_ROOT"] = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
        return Process.Start(start)!;
    }
}
