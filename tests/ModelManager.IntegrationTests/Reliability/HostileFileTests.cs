using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace ModelManager.IntegrationTests;

/// <summary>
/// Files that are not files, in the place of every file the library reads (the config file, a GGUF model, an ONNX folder's
/// genai_config.json, its .onnx file and its tokenizer.json): each is a typed error naming the path, within seconds, with no
/// crash, no hang and no runaway memory.
/// </summary>
[Collection(RunAlone.Name)]
public sealed class HostileFileTests(ITestOutputHelper output) : IDisposable
{
    private const long RssBudget = 100L << 20;
    private readonly string _dir = TestCache.NewScratchDirectory();
    private readonly List<Socket> _sockets = [];

    /// <summary>The corpus: name → a path that is not a regular file (or is one no reader should swallow).</summary>
    private Dictionary<string, string> Corpus()
    {
        var corpus = new Dictionary<string, string>(StringComparer.Ordinal);
        var fifo = Path.Combine(_dir, "fifo");
        using (var mkfifo = Process.Start(new ProcessStartInfo("mkfifo", fifo) { UseShellExecute = false })!)
        {
            mkfifo.WaitForExit();
        }

        corpus["fifo"] = fifo;
        corpus["/dev/zero"] = "/dev/zero";
        corpus["/dev/urandom"] = "/dev/urandom";
        var socketPath = Path.Combine(_dir, "socket");
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(socketPath));
        _sockets.Add(socket);
        corpus["socket"] = socketPath;
        var directory = Path.Combine(_dir, "directory");
        Directory.CreateDirectory(directory);
        corpus["directory"] = directory;
        var sparse = Path.Combine(_dir, "sparse-100GB");
        using (var stream = new FileStream(sparse, FileMode.Create))
        {
            stream.SetLength(100L << 30);
        }

        corpus["100 GB sparse file"] = sparse;
        foreach (var (name, target) in corpus.ToList())
        {
            var link = Path.Combine(_dir, "link-to-" + name.Replace('/', '_').Replace(' ', '_'));
            File.CreateSymbolicLink(link, target);
            corpus["link to " + name] = link;
        }

        return corpus;
    }

    [Fact]
    public async Task AsTheConfigFile_EachIsAConfigurationErrorNamingThePath()
    {
        foreach (var (name, path) in Corpus())
        {
            await AssertBoundedAsync(name, async () =>
            {
                var services = new ServiceCollection();
                services.AddModelManager(path).AddFakeBackend();
                await using var provider = services.BuildServiceProvider();
                var error = Assert.Throws<ModelConfigurationException>(() => provider.GetRequiredService<IModelManager>());
                Assert.Contains(Path.GetFullPath(path), error.Message, StringComparison.Ordinal);
                return error.Message;
            });
        }
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task AsAGgufModel_EachIsAFormatErrorNamingThePath_AndTheManagerStillServes()
    {
        foreach (var (name, path) in Corpus())
        {
            await AssertBoundedAsync(name, async () =>
            {
                var (services, manager) = GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Gguf("bad", path)}}, {{GgufManagers.Stories()}} ] }""");
                await using var _ = services;
                var error = await Assert.ThrowsAnyAsync<ModelLoadException>(() => manager.LoadModelAsync("bad"));
                Assert.Contains(path, error.ToString(), StringComparison.Ordinal);
                Assert.Contains("model 'bad'", error.ToString(), StringComparison.Ordinal);
                Assert.NotEmpty(await manager.GetModel("stories").GenerateAsync("Once upon a time"));
                return error.Message;
            });
        }
    }

    [SharedModelFact("tiny-random-gpt2-fp32/genai_config.json")]
    public async Task InAnOnnxFolder_EachIsAFormatErrorNamingTheFile()
    {
        var corpus = Corpus();
        foreach (var file in new[] { "genai_config.json", "tokenizer.json", "decoder" })
        {
            foreach (var (name, path) in corpus)
            {
                await AssertBoundedAsync($"{file} = {name}", async () =>
                {
                    var folder = OnnxManagers.CopyTiny();
                    var target = file == "decoder" ? Path.Combine(folder, DecoderFile(folder)) : Path.Combine(folder, file);
                    File.Delete(target);
                    File.CreateSymbolicLink(target, path);
                    var (services, manager) = OnnxManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("bad", folder)}} ] }""");
                    await using var _ = services;
                    var error = await Assert.ThrowsAnyAsync<ModelLoadException>(() => manager.LoadModelAsync("bad"));
                    // A 100 GB weights file is a regular file: its estimate, not its kind, refuses it (the model can never fit).
                    Assert.True(error.ToString().Contains(Path.GetFileName(target), StringComparison.Ordinal)
                        || error is ModelMemoryException && error.Message.Contains("'bad'", StringComparison.Ordinal), error.ToString());
                    return error.Message;
                });
            }
        }
    }

    public void Dispose()
    {
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
    }

    private static string DecoderFile(string folder)
    {
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "genai_config.json")));
        return config.RootElement.GetProperty("model").GetProperty("decoder").GetProperty("filename").GetString()!;
    }

    /// <summary>Runs one case: it must end within 5 s (a hang fails instead of blocking the run) and grow resident memory by less than 100 MB.</summary>
    private async Task AssertBoundedAsync(string name, Func<Task<string>> run)
    {
        var before = Environment.WorkingSet;
        var watch = Stopwatch.StartNew();
        var task = Task.Run(run);
        var finished = await Task.WhenAny(task, Task.Delay(TimeSpan.FromSeconds(5)));
        Assert.True(finished == task, $"{name}: no answer within 5 s");
        var message = await task;
        var growth = Environment.WorkingSet - before;
        output.WriteLine($"{name}: {watch.Elapsed.TotalMilliseconds:F0} ms, RSS {growth / 1048576.0:+0.0;-0.0} MB: {message}");
        Assert.True(growth < RssBudget, $"{name}: resident memory grew {growth / 1048576.0:F0} MB");
    }
}
