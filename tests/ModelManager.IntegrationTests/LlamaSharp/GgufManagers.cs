using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ModelManager.IntegrationTests;

/// <summary>Managers over real GGUF models, built the way an app builds them (DI + AddLlamaSharp).</summary>
internal static class GgufManagers
{
    /// <summary>The reference continuation in shared/models/README.md (greedy, BOS first).</summary>
    public const string StoriesReference =
        "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.";

    public static (ServiceProvider Services, IModelManager Manager) Create(string json, ILoggerProvider? logs = null)
    {
        var provider = BuildProvider(json, logs);
        return (provider, provider.GetRequiredService<IModelManager>());
    }

    /// <summary>A manager over <see cref="Stories"/> alone, with a 512 MB budget.</summary>
    public static OneModelManager CreateStories() => CreateStories(Stories());

    /// <summary>A manager over one model named <c>stories</c>, described by <paramref name="model"/>, with a 512 MB budget.</summary>
    public static OneModelManager CreateStories(string model) => new(BuildProvider($$"""{ "max_memory_mb": 512, "models": [ {{model}} ] }"""), "stories");

    /// <summary>A descriptor as the manager would build it (context 256, parallel 8, as <see cref="Stories"/>), for driving the backend directly.</summary>
    public static ModelDescriptor Descriptor(string name, string path, int contextLength = 256) =>
        new(name, "gguf", path, contextLength, new GenerationOptions { DoSample = false, MaxTokens = 48 }, 3, TimeSpan.Zero, false, [],
            new Dictionary<string, string?> { ["parallel"] = "8" }, "models[0]");

    public static string Stories(string name = "stories", int priority = 3, string extra = "") =>
        $$"""{ "name": "{{name}}", "type": "gguf", "path": {{System.Text.Json.JsonSerializer.Serialize(SharedModels.Stories260K)}}, "context_length": 256, "parallel": 8, "memory_priority": {{priority}}, "parameters": { "do_sample": false, "max_tokens": 48 } {{(extra.Length > 0 ? ", " + extra : "")}} }""";

    public static string Gguf(string name, string path, int priority = 3, string extra = "") =>
        $$"""{ "name": "{{name}}", "type": "gguf", "path": {{System.Text.Json.JsonSerializer.Serialize(path)}}, "context_length": 128, "parallel": 4, "memory_priority": {{priority}}, "parameters": { "do_sample": false, "max_tokens": 8 } {{(extra.Length > 0 ? ", " + extra : "")}} }""";

    private static ServiceProvider BuildProvider(string json, ILoggerProvider? logs = null)
    {
        var path = Path.Combine(TestCache.NewScratchDirectory(), "config.json");
        File.WriteAllText(path, json);
        var services = new ServiceCollection();
        if (logs is not null)
        {
            services.AddLogging(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        }

        services.AddModelManager(path).AddLlamaSharp().AddFakeBackend();
        return services.BuildServiceProvider();
    }
}
