using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.IntegrationTests;

/// <summary>Managers over the shared all-MiniLM-L6-v2 encoder, built the way an app builds them (DI + AddOnnxGenAI).</summary>
internal static class EmbeddingManagers
{
    /// <summary>The marker file of the shared MiniLM folder, for <see cref="SharedModelFactAttribute"/>.</summary>
    public const string MiniLmMarker = "all-MiniLM-L6-v2/model.onnx";

    /// <summary>The shared all-MiniLM-L6-v2 folder; throws (never skips) when it is missing.</summary>
    public static string MiniLm => Path.GetDirectoryName(SharedModels.Require(Path.Combine("all-MiniLM-L6-v2", "model.onnx")))!;

    /// <summary>An onnx model entry over an encoder folder (no <c>capabilities</c>: detected from the folder).</summary>
    public static string Encoder(string name, string path, int priority = 3, string extra = "") =>
        $$"""{ "name": "{{name}}", "type": "onnx", "path": {{JsonSerializer.Serialize(path)}}, "memory_priority": {{priority}} {{(extra.Length > 0 ? ", " + extra : "")}} }""";

    /// <summary>A manager with the MiniLM encoder named <c>minilm</c> and an agent <c>Memory</c> on it, with a 1 GB budget.</summary>
    public static (ServiceProvider Services, IModelManager Manager) CreateMiniLm(Action<ModelManagerBuilder>? configure = null) =>
        Create($$"""{ "max_memory_mb": 1024, "models": [ {{Encoder("minilm", MiniLm)}} ], "agents": { "Memory": { "model": "minilm" } } }""", configure);

    public static (ServiceProvider Services, IModelManager Manager) Create(string json, Action<ModelManagerBuilder>? configure = null)
    {
        var path = Path.Combine(TestCache.NewScratchDirectory(), "config.json");
        File.WriteAllText(path, json);
        var services = new ServiceCollection();
        var builder = services.AddModelManager(path).AddOnnxGenAI().AddLlamaSharp().AddFakeBackend();
        configure?.Invoke(builder);
        var provider = services.BuildServiceProvider();
        return (provider, provider.GetRequiredService<IModelManager>());
    }

    /// <summary>A writable copy of the MiniLM folder in a new scratch folder, for tests that remove or alter files.</summary>
    public static string CopyMiniLm() => TestCache.CopyToScratch(MiniLm);

    public static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(a, b);

    public static double Cosine(Embedding<float> a, Embedding<float> b) => Cosine(a.Vector.Span, b.Vector.Span);
}
