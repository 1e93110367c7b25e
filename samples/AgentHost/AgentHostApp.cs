using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AgentHost;

/// <summary>The sample's entry point: builds a generic host with the model manager and the agents, and runs a scenario in it.</summary>
public static class AgentHostApp
{
    /// <summary>Runs the sample with <paramref name="args"/>, writing to <paramref name="output"/> (the terminal when null).</summary>
    /// <returns>0 on success, 1 when a step failed or an unexpected error occurred, 2 for bad arguments, 130 when cancelled.</returns>
    public static async Task<int> RunAsync(string[] args, TextWriter? output = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = AgentHostOptions.Parse(args, out var error);
        if (options is null || options.Help)
        {
            var writer = output ?? (options is null ? Console.Error : Console.Out);
            if (error is not null)
            {
                writer.WriteLine($"error: {error}");
            }

            writer.WriteLine(AgentHostOptions.Usage);
            return options is null ? 2 : 0;
        }

        var console = AgentConsole.Create(output, options.NoColor);
        console.Title("ModelManager AgentHost", options.ConfigPath is null
            ? $"agents sharing, evicting and falling back between models under one memory budget (scenario: {options.Scenario}, backend: {options.Backend})"
            : "the agents of your config, run concurrently");

        IHost? host = null;
        try
        {
            var plan = options.ConfigPath is null ? await DemoSetup.PrepareAsync(options, console, cancellationToken) : null;
            var configPath = options.ConfigPath ?? plan!.ConfigPath;
            host = BuildHost(configPath, options, console, plan);

            // Subscribe before the host starts, so that preloads show too.
            host.Services.GetRequiredService<ModelEventLog>();
            await host.StartAsync(cancellationToken);
            var stopping = host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
            using var cancel = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, stopping);
            var code = plan is null
                ? await host.Services.GetRequiredService<ConfigScenario>().RunAsync(configPath, cancel.Token)
                : await host.Services.GetRequiredService<DemoScenario>().RunAsync(cancel.Token);

            console.Section("Shutdown: the host stops and the manager unloads what is left");
            await host.StopAsync(CancellationToken.None);
            console.MarkupLine(code == 0 ? "[green bold]done[/] (exit code 0)" : $"[red bold]finished with failures[/] (exit code {code})");
            return code;
        }
        catch (OperationCanceledException)
        {
            console.Error("cancelled");
            return 130;
        }
        catch (ModelConfigurationException e)
        {
            console.Error(e.Message);
            return 1;
        }
        catch (Exception e)
        {
            console.Error(e.ToString());
            return 1;
        }
        finally
        {
            if (host is IAsyncDisposable disposable)
            {
                await disposable.DisposeAsync();
            }
            else
            {
                host?.Dispose();
            }
        }
    }

    /// <summary>Registers the backends the sample can run on: "gguf" (LLamaSharp) and "fake" (ModelManager.Testing).</summary>
    public static ModelManagerBuilder AddBackends(ModelManagerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddLlamaSharp().AddOnnxGenAI().AddFakeBackend();
    }

    private static IHost BuildHost(string configPath, AgentHostOptions options, AgentConsole console, DemoPlan? plan)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings
        {
            ApplicationName = "AgentHost",
            ContentRootPath = AppContext.BaseDirectory,
        });

        // The manager's events are the story here; its log only with --verbose.
        builder.Logging.ClearProviders();
        if (options.Verbose)
        {
            builder.Logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information);
        }

        builder.Services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true);
        AddBackends(builder.Services.AddModelManager(configPath));
        builder.Services
            .AddSingleton(console)
            .AddSingleton<ModelEventLog>()
            .AddAgents()
            .AddSingleton<ConfigScenario>();
        if (plan is not null)
        {
            builder.Services.AddSingleton(plan).AddSingleton<DemoScenario>();
        }

        return builder.Build();
    }
}
