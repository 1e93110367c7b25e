using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using ModelManager.Cli;

namespace ModelManager.IntegrationTests.Cli;

/// <summary>Runs the <c>modelmanager</c> tool's entry point in process, capturing what it writes.</summary>
internal static class CliRun
{
    public static async Task<(int ExitCode, string Output, string Error)> RunAsync(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = await CliApp.RunAsync(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Runs a command with <c>--json</c> and parses what it printed; the command must succeed.</summary>
    public static async Task<JsonObject> JsonAsync(params string[] args)
    {
        var (code, output, error) = await RunAsync([.. args, "--json"]);
        Assert.True(code == 0, $"modelmanager {string.Join(' ', args)} exited {code}: {error}");
        Assert.Equal("", error);
        return JsonNode.Parse(output)!.AsObject();
    }

    /// <summary>The library as an app uses it: the manager over <paramref name="configJson"/> and its backends, for what the tool must agree with.</summary>
    public static async Task<(ServiceProvider Services, string ConfigPath)> LibraryAsync(string configJson)
    {
        var path = Path.Combine(TestCache.NewScratchDirectory(), "config.json");
        await File.WriteAllTextAsync(path, configJson);
        var services = new ServiceCollection();
        services.AddModelManager(path).AddLlamaSharp().AddOnnxGenAI().AddOpenAI();
        return (services.BuildServiceProvider(), path);
    }

    /// <summary>The library's estimate of model <paramref name="name"/>, through its backend's <see cref="IModelBackend.EstimateBytesAsync"/>.</summary>
    public static async Task<long> LibraryEstimateAsync(ServiceProvider services, string name)
    {
        var model = services.GetRequiredService<IModelManager>().GetModels().Single(m => m.Name == name);
        var backend = services.GetServices<IModelBackend>().Single(b => b.Types.Contains(model.Type, StringComparer.OrdinalIgnoreCase));
        return await backend.EstimateBytesAsync(model, CancellationToken.None);
    }

    public static string Json(string value) => System.Text.Json.JsonSerializer.Serialize(value);
}
