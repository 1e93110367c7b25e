using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace ModelManager.IntegrationTests.Packaging;

/// <summary>Reads the packed .nupkg files (zip archives) as NuGet would show them to a user.</summary>
[Collection(PackagingGroup.Name)]
public sealed partial class PackageContentsTests(PackedPackages packages)
{
    [Fact]
    public void Pack_EverySrcProject_PrintsNoWarning()
    {
        foreach (var (id, output) in packages.PackOutput)
        {
            Assert.DoesNotMatch(WarningLine(), output);
            Assert.Contains($"Successfully created package '{packages.PackagePath(id)}'", output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Nupkg_EveryPackage_HasReadmeLicenseRepositoryAndSymbols()
    {
        string head = GitHead(packages.RepositoryRoot);
        foreach (string id in PackedPackages.Ids)
        {
            using var zip = ZipFile.OpenRead(packages.PackagePath(id));
            var metadata = Metadata(zip, id);

            Assert.Equal(id, Value(metadata, "id"));
            Assert.Equal(packages.Version, Value(metadata, "version"));
            Assert.False(string.IsNullOrWhiteSpace(Value(metadata, "description")), id);
            Assert.False(string.IsNullOrWhiteSpace(Value(metadata, "tags")), id);

            // README: named in the nuspec, present at the root, about this package.
            Assert.Equal("README.md", Value(metadata, "readme"));
            string readme = ReadEntry(zip, "README.md");
            Assert.StartsWith($"# {id}\n", readme, StringComparison.Ordinal);
            Assert.Contains($"dotnet add package {(id == "ModelManager" ? "ModelManager.LlamaSharp" : id)}", readme, StringComparison.Ordinal);

            var license = Element(metadata, "license");
            Assert.Equal("expression", (string?)license.Attribute("type"));
            Assert.Equal("MIT", license.Value);

            // Repository and project URL from one property; the commit from SourceLink's git information.
            var repository = Element(metadata, "repository");
            Assert.Equal("git", (string?)repository.Attribute("type"));
            string url = (string?)repository.Attribute("url") ?? "";
            Assert.StartsWith("https://", url, StringComparison.Ordinal);
            Assert.Equal(url, Value(metadata, "projectUrl"));
            Assert.Equal(head, (string?)repository.Attribute("commit"));

            string dll = $"lib/net10.0/{id}.dll";
            Assert.NotNull(zip.GetEntry(dll));
            Assert.NotNull(zip.GetEntry($"lib/net10.0/{id}.xml"));
            if (SharedModels.IsCi)
            {
                // ContinuousIntegrationBuild (CI=true): paths are mapped to /_/, so the DLL names no folder of this machine.
                byte[] bytes = ReadBytes(zip, dll);
                Assert.False(Contains(bytes, Encoding.UTF8.GetBytes(packages.RepositoryRoot.TrimEnd('/') + "/")), $"{dll} embeds the absolute path {packages.RepositoryRoot}");
            }

            // Symbols beside the package, as a .snupkg holding the PDB.
            string snupkg = packages.PackagePath(id, ".snupkg");
            Assert.True(File.Exists(snupkg), $"{snupkg} missing");
            using var symbols = ZipFile.OpenRead(snupkg);
            // SourceLink: the PDB maps the sources to the repository at this commit.
            string pdb = Encoding.UTF8.GetString(ReadBytes(symbols, $"lib/net10.0/{id}.pdb"));
            var sourceLink = SourceLinkJson().Match(pdb);
            Assert.True(sourceLink.Success, $"{id}.pdb has no SourceLink document map");
            Assert.Contains($"/{head}/", sourceLink.Value, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Nupkg_NativeBackends_LeaveTheNativeRuntimeToTheAppAndBoundTheirMinorVersion()
    {
        var llama = Dependencies(packages.PackagePath("ModelManager.LlamaSharp"), "ModelManager.LlamaSharp");
        Assert.Equal("[0.30.0, 0.31.0)", llama["LLamaSharp"]);
        Assert.DoesNotContain(llama.Keys, k => k.StartsWith("LLamaSharp.Backend", StringComparison.Ordinal));

        var onnx = Dependencies(packages.PackagePath("ModelManager.OnnxGenAI"), "ModelManager.OnnxGenAI");
        Assert.Equal("[0.18.0, 0.19.0)", onnx["Microsoft.ML.OnnxRuntimeGenAI.Managed"]);
        Assert.True(onnx.ContainsKey("Microsoft.ML.OnnxRuntime.Managed"));
        Assert.False(onnx.ContainsKey("Microsoft.ML.OnnxRuntimeGenAI"), "the CPU native package must be the app's choice");
        Assert.False(onnx.ContainsKey("Microsoft.ML.OnnxRuntime"), "the native ONNX Runtime must be the app's choice");

        foreach (string id in PackedPackages.Ids.Where(i => i != "ModelManager"))
        {
            Assert.Equal(packages.Version, Dependencies(packages.PackagePath(id), id)["ModelManager"]);
        }
    }

    private static Dictionary<string, string> Dependencies(string nupkg, string id)
    {
        using var zip = ZipFile.OpenRead(nupkg);
        return Metadata(zip, id).Descendants().Where(e => e.Name.LocalName == "dependency")
            .ToDictionary(e => (string)e.Attribute("id")!, e => (string)e.Attribute("version")!);
    }

    private static XElement Metadata(ZipArchive zip, string id) =>
        Element(XDocument.Parse(ReadEntry(zip, id + ".nuspec")).Root!, "metadata");

    private static XElement Element(XElement parent, string name) =>
        parent.Elements().SingleOrDefault(e => e.Name.LocalName == name) ?? throw new Xunit.Sdk.XunitException($"nuspec has no <{name}>");

    private static string Value(XElement parent, string name) => Element(parent, name).Value;

    private static string ReadEntry(ZipArchive zip, string name) => Encoding.UTF8.GetString(ReadBytes(zip, name)).TrimStart('\uFEFF').ReplaceLineEndings("\n");

    private static byte[] ReadBytes(ZipArchive zip, string name)
    {
        var entry = zip.GetEntry(name) ?? throw new Xunit.Sdk.XunitException($"package has no {name}");
        using var stream = entry.Open();
        using var memory = new MemoryStream();
        stream.CopyTo(memory);
        return memory.ToArray();
    }

    private static bool Contains(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle) >= 0;

    private static string GitHead(string repositoryRoot)
    {
        var (exitCode, output) = GitRevParse(repositoryRoot);
        Assert.True(exitCode == 0, $"git rev-parse HEAD failed: {output}");
        return output.Trim();
    }

    private static (int ExitCode, string Output) GitRevParse(string repositoryRoot)
    {
        var start = new System.Diagnostics.ProcessStartInfo("git", "rev-parse HEAD")
        {
            WorkingDirectory = repositoryRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output);
    }

    [GeneratedRegex(@"\{""documents"":\{[^}]*\}\}")]
    private static partial Regex SourceLinkJson();

    [GeneratedRegex(@"(?m)^.*:\s*warning\b.*$", RegexOptions.IgnoreCase)]
    private static partial Regex WarningLine();
}
