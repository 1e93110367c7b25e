using System.Diagnostics;
using System.Text.Json;

namespace ModelManager.Benchmarks.Compare;

/// <summary>Runs this benchmark assembly again as a child process for one measurement, and reads the JSON line it prints last.</summary>
internal static class ChildProcess
{
    public static async Task<Dictionary<string, JsonElement>> RunJsonAsync(string[] args, CancellationToken cancellationToken)
    {
        var start = StartInfo();
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start the {args[0]} child process");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var text = await stdout.ConfigureAwait(false);
        var errors = await stderr.ConfigureAwait(false);
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith('{'));
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"{string.Join(' ', args.Take(2))} child exited with {process.ExitCode}:\n{text}\n{errors}");
        }

        return JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(line)!;
    }

    /// <summary>This assembly again: through the dotnet host that runs this process (a test host), else through its apphost.</summary>
    private static ProcessStartInfo StartInfo()
    {
        var assembly = typeof(ChildProcess).Assembly.Location;
        var apphost = Path.ChangeExtension(assembly, OperatingSystem.IsWindows() ? ".exe" : null);
        var current = Environment.ProcessPath;
        ProcessStartInfo start;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet")
        {
            start = new ProcessStartInfo(current);
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add(assembly);
        }
        else if (File.Exists(apphost))
        {
            start = new ProcessStartInfo(apphost);
        }
        else
        {
            start = new ProcessStartInfo("dotnet");
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add(assembly);
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        start.UseShellExecute = false;
        start.WorkingDirectory = Path.GetDirectoryName(assembly)!;
        return start;
    }
}
