using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json.Nodes;

namespace ModelManager.IntegrationTests;

/// <summary>
/// The ModelServer process (tests/ModelManager.TestServer: samples/ModelServer plus the fake backend) on SIGTERM while a
/// load is stuck where cancellation cannot reach it, as a native load can be: the process exits at once and the waiting
/// request gets its answer.
/// </summary>
public sealed partial class ShutdownProcessTests
{
    private const int Sigterm = 15;

    [Fact]
    public async Task Sigterm_WithALoadStuckInNativeCode_ExitsWithin10s_AndTheWaitingRequestGets503()
    {
        var scratch = TestCache.NewScratchDirectory();
        var config = Path.Combine(scratch, "config.json");
        await File.WriteAllTextAsync(config, """
            { "load_timeout": 0, "models": [
              { "name": "stuck", "type": "fake", "parameters": { "size_mb": 1, "load_delay_ms": 600000, "ignore_cancellation": true } },
              { "name": "ok", "type": "fake", "parameters": { "size_mb": 1 } } ] }
            """);
        var port = FreePort();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { TestServerPath(), "--config", config, "--urls", $"http://127.0.0.1:{port}" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["MODELSERVER_API_KEY"] = "";
        using var server = Process.Start(start)!;
        var log = new StringBuilder();
        server.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        server.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(60) };
            await WaitUntilAsync(async () => (await TryGetAsync(http, "health")) is not null, "the server to answer /health");
            Assert.Contains("\"id\":\"ok\"", await http.GetStringAsync("v1/models"), StringComparison.Ordinal);

            var waiting = http.PostAsync("v1/chat/completions",
                new StringContent("""{"model":"stuck","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
            await WaitUntilAsync(async () => (await TryGetAsync(http, "v1/status")) is { } status
                && JsonNode.Parse(status)!["models"]!.AsArray().Any(m => (string)m!["name"]! == "stuck" && (string)m["state"]! == "Loading"), "the stuck load to begin");

            Assert.Equal(0, Kill(server.Id, Sigterm));
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(10)); // the bound on exit, not a measurement
            try
            {
                await server.WaitForExitAsync(bound.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"ModelServer still ran 10 s after SIGTERM with a stuck load:\n{log}");
            }

            Assert.True(server.ExitCode == 0, $"exit code {server.ExitCode}:\n{log}");
            using var response = await waiting;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Contains("\"code\":\"shutting_down\"", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
            }
        }
    }

    private static async Task<string?> TryGetAsync(HttpClient http, string path)
    {
        try
        {
            using var response = await http.GetAsync(path);
            return response.IsSuccessStatusCode ? await response.Content.ReadAsStringAsync() : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>Polls <paramref name="condition"/> with a hang guard of 60 s.</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var guard = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(guard.Elapsed < TimeSpan.FromSeconds(60), $"waited 60 s for {what}");
            await Task.Delay(100);
        }
    }

    private static string TestServerPath()
    {
        var configuration = typeof(ShutdownProcessTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var path = Path.Combine(dir.FullName, "tests", "ModelManager.TestServer", "bin", configuration, "net10.0", "ModelManager.TestServer.dll");
            if (File.Exists(path))
            {
                return path;
            }
        }

        throw new FileNotFoundException($"ModelManager.TestServer.dll ({configuration}) not found above {AppContext.BaseDirectory}; build the solution first");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
