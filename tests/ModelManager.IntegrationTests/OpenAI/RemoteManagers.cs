using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>Managers in the test process whose models live behind OpenAI-compatible endpoints (AddOpenAI), with quick retries.</summary>
internal static class RemoteManagers
{
    public static (ServiceProvider Services, IModelManager Manager) Create(string json, LogCapture? logs = null, Action<OpenAIOptions>? configure = null, TimeProvider? time = null)
    {
        var path = Path.Combine(TestCache.NewScratchDirectory(), "config.json");
        File.WriteAllText(path, json);
        var services = new ServiceCollection();
        services.AddLogging(b =>
        {
            b.SetMinimumLevel(LogLevel.Trace);
            if (logs is not null)
            {
                b.AddProvider(logs);
            }
        });
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        services.AddModelManager(path)
            .AddOpenAI(o =>
            {
                // Short delays keep the suite fast; the shape (exponential, jitter, cap) is the same as in production.
                o.RetryBaseDelay = TimeSpan.FromMilliseconds(20);
                o.MaxRetryDelay = TimeSpan.FromMilliseconds(200);
                configure?.Invoke(o);
            })
            .AddFakeBackend();
        var provider = services.BuildServiceProvider();
        try
        {
            return (provider, provider.GetRequiredService<IModelManager>());
        }
        catch
        {
            provider.Dispose();
            throw;
        }
    }

    /// <summary>A config entry of type openai; <paramref name="extra"/> is appended inside the object.</summary>
    public static string Remote(string name, string endpoint, string? remoteModel = null, string extra = "") =>
        $$"""{ "name": "{{name}}", "type": "openai", "endpoint": {{JsonSerializer.Serialize(endpoint)}}{{(remoteModel is null ? "" : $", \"model\": \"{remoteModel}\"")}}, "parameters": { "do_sample": false, "max_tokens": 40 }{{(extra.Length > 0 ? ", " + extra : "")}} }""";

    /// <summary>A config entry of type openai with several endpoints, tried in order.</summary>
    public static string RemoteMany(string name, IEnumerable<string> endpoints, string? remoteModel = null, string extra = "") =>
        $$"""{ "name": "{{name}}", "type": "openai", "endpoints": {{JsonSerializer.Serialize(endpoints)}}{{(remoteModel is null ? "" : $", \"model\": \"{remoteModel}\"")}}, "parameters": { "do_sample": false, "max_tokens": 40 }{{(extra.Length > 0 ? ", " + extra : "")}} }""";

    /// <summary>A fake model entry (deterministic words, no memory unless <paramref name="sizeMb"/>).</summary>
    public static string Fake(string name, int sizeMb = 0, int tokenDelayMs = 0, int maxTokens = 8, string extra = "") =>
        $$"""{ "name": "{{name}}", "type": "fake", "parameters": { "size_mb": {{sizeMb}}, "token_delay_ms": {{tokenDelayMs}}, "max_tokens": {{maxTokens}} }{{(extra.Length > 0 ? ", " + extra : "")}} }""";
}
