namespace ModelManager.Cli;

/// <summary>modelmanager: the ModelManager command-line tool (<c>dotnet tool install -g ModelManager.Cli</c>).</summary>
internal static class Program
{
    private static Task<int> Main(string[] args) =>
        CliApp.RunAsync(args, Console.Out, Console.Error, terminal: !Console.IsOutputRedirected);
}
