using System.CommandLine;

namespace ModelManager.Cli;

/// <summary><c>modelmanager serve --config CONFIG</c>: ModelServer's OpenAI-compatible endpoints and dashboard over a config, from the tool.</summary>
internal static class ServeCommand
{
    public static Command Create(CliOptions common)
    {
        _ = common;
        var config = new Option<string>("--config") { Description = "The config.json to serve", Required = true };
        var urls = new Option<string>("--urls")
        {
            Description = "Where to listen (loopback only by default)",
            DefaultValueFactory = _ => ModelServer.ModelServerApp.DefaultUrl,
        };
        var command = new Command("serve", $"Serve a config's models over the OpenAI wire format (/v1/chat/completions, /v1/embeddings, ...), with /metrics; set {StatusCommand.ApiKeyVariable} to require a key")
        {
            config, urls,
        };
        command.SetAction(async (result, cancellationToken) =>
        {
            try
            {
                await using var app = ModelServer.ModelServerApp.Build(["--config", result.GetValue(config)!, "--urls", result.GetValue(urls)!]);
                await Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.RunAsync(app, cancellationToken).ConfigureAwait(false);
                return 0;
            }
            catch (ModelConfigurationException e)
            {
                await result.InvocationConfiguration.Error.WriteLineAsync(e.Message).ConfigureAwait(false);
                return CliOptions.Failed;
            }
        });
        return command;
    }
}
