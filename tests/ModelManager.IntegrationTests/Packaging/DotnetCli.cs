using System.Diagnostics;
using System.Text;

namespace ModelManager.IntegrationTests.Packaging;

/// <summary>Runs the <c>dotnet</c> CLI as a child process, as a user's shell would, and captures what it prints.</summary>
internal static class DotnetCli
{
    /// <summary>A hang guard, not a measurement: a child still running then is killed and the run fails with its output.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(5);

    // Set by the test host's own MSBuild/SDK resolution; a child build must resolve its SDK afresh.
    private static readonly string[] InheritedBuildVariables =
        ["MSBuildExtensionsPath", "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildLoadMicrosoftTargetsReadOnly", "VSTEST_HOST_DEBUG"];

    public static async Task<(int ExitCode, string Output)> RunAsync(string workingDirectory, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (string name in InheritedBuildVariables)
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var output = new StringBuilder();
        var lockObject = new object();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (lockObject) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (lockObject) { output.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var guard = new CancellationTokenSource(HangGuard);
        try
        {
            await process.WaitForExitAsync(guard.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException($"dotnet {string.Join(' ', arguments)} in {workingDirectory} still ran after {HangGuard.TotalMinutes} min:\n{output}");
        }

        process.WaitForExit(); // flushes the redirected streams
        lock (lockObject)
        {
            return (process.ExitCode, output.ToString());
        }
    }

    /// <summary>Runs and asserts a zero exit code, showing the output when it is not.</summary>
    public static async Task<string> RunSucceedingAsync(string workingDirectory, params string[] arguments)
    {
        var (exitCode, output) = await RunAsync(workingDirectory, arguments);
        Assert.True(exitCode == 0, $"dotnet {string.Join(' ', arguments)} exited with {exitCode}:\n{output}");
        return output;
    }
}
