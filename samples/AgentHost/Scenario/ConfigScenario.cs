using System.Globalization;
using Microsoft.Extensions.Options;
using Spectre.Console;

namespace AgentHost;

/// <summary>--config PATH: runs one job for each agent of the user's config, concurrently, then prints the stats.</summary>
public sealed class ConfigScenario(IModelManager manager, IOptions<ModelManagerOptions> options, AgentConsole console, IServiceProvider services)
{
    private const int MaxTokens = 32;

    public async Task<int> RunAsync(string configPath, CancellationToken cancellationToken)
    {
        var config = options.Value;
        console.Section("Setup");
        console.Detail("config", Path.GetFullPath(configPath));
        console.Detail("memory budget", AgentConsole.FormatMb(manager.GetMemoryUsage().LimitBytes));
        console.Table("Models",
            ["Model", "Type", "Priority", "max_idle_time", "Preload", "Fallbacks", "Path"],
            manager.GetModels().Select(m => (IReadOnlyList<string>)
            [
                m.Name, m.Type, m.MemoryPriority.ToString(CultureInfo.InvariantCulture),
                m.MaxIdleTime > TimeSpan.Zero ? $"{m.MaxIdleTime.TotalSeconds} s" : "never", m.Preload ? "yes" : "no",
                m.Fallbacks.Count > 0 ? string.Join(", ", m.Fallbacks) : "-", m.Path ?? "-",
            ]),
            2);

        // The config's agents; without any, the default model's agent, else one agent per model.
        var names = config.Agents.Count > 0 ? config.Agents.Keys.ToList()
            : config.DefaultModel is not null ? ["AgentHost"]
            : manager.GetModels().Select(m => m.Name).ToList();
        var agents = names.Select(n => AgentCatalog.Resolve(services, n)).ToList();
        console.Table("Agents: which agent uses which model",
            ["Agent", "Model", "Fallbacks", "Job", "Receives"],
            agents.Select(a => (IReadOnlyList<string>)
            [
                a.Name, a.ConfiguredModel ?? "?",
                Fallbacks(config, a) is { Count: > 0 } f ? string.Join(", ", f) : "-",
                a.Job, a.Injection,
            ]));

        console.Section("Agents at work (concurrently)");
        var failures = 0;
        await console.RunWithLoadProgressAsync(() => Task.WhenAll(agents.Select(async agent =>
        {
            try
            {
                console.AgentResult(await agent.RunAsync("Once upon a time", MaxTokens, cancellationToken));
            }
            catch (Exception e) when (e is ModelLoadException or ModelNotFoundException)
            {
                Interlocked.Increment(ref failures);
                console.MarkupLine($"  [red]{Markup.Escape(agent.Name)} failed:[/] {Markup.Escape(e.Message)}");
            }
        })));

        console.MarkupLine(failures == 0
            ? $"  [green]all {agents.Count} agents finished[/]"
            : $"  [red]{failures} of {agents.Count} agents failed[/]");

        console.Section("Final state");
        console.StatsTable(manager.GetModelStats());
        console.MemoryTable(manager.GetMemoryUsage());
        return failures == 0 ? 0 : 1;
    }

    /// <summary>The agent's own fallbacks, else its model's.</summary>
    private IList<string> Fallbacks(ModelManagerOptions config, Agent agent) =>
        config.Agents.TryGetValue(agent.Name, out var definition) && definition.Fallbacks.Count > 0
            ? definition.Fallbacks
            : manager.GetModels().FirstOrDefault(m => m.Name == agent.ConfiguredModel)?.Fallbacks.ToList() ?? [];
}
