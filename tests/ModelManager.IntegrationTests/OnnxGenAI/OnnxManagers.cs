using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.IntegrationTests;

/// <summary>Managers and directly loaded instances over real ONNX Runtime GenAI models.</summary>
internal static class OnnxManagers
{
    /// <summary>The marker file of the shared tiny GPT-2 folder, for <see cref="SharedModelFactAttribute"/>.</summary>
    public const string TinyMarker = "tiny-random-gpt2-fp32/genai_config.json";

    /// <summary>A prompt whose ids stay inside the tiny model's 1000-token vocabulary (shared/models/README.md).</summary>
    public const string Prompt = "a b c d";

    /// <summary>The ids of <see cref="Prompt"/>.</summary>
    public static readonly int[] PromptIds = [64, 275, 269, 288];

    /// <summary>The first greedy ids after <see cref="PromptIds"/>: the README's [288, 288, 204, 204, ...].</summary>
    public static readonly int[] GreedyIds = [288, 288, 204, 204, 204, 204, 204, 204, 204, 204];

    /// <summary>The shared tiny-random-gpt2-fp32 folder; throws (never skips) when it is missing.</summary>
    public static string TinyGpt2 => Path.GetDirectoryName(SharedModels.Require(Path.Combine("tiny-random-gpt2-fp32", "genai_config.json")))!;

    /// <summary>Bytes of past.onnx, the tiny model's only ONNX file.</summary>
    public static long TinyOnnxBytes => new FileInfo(Path.Combine(TinyGpt2, "past.onnx")).Length;

    public static (ServiceProvider Services, IModelManager Manager) Create(string json)
    {
        var provider = BuildProvider(json);
        return (provider, provider.GetRequiredService<IModelManager>());
    }

    /// <summary>A manager over the tiny model alone (<see cref="Onnx"/> defaults), with a 512 MB budget.</summary>
    public static OneModelManager CreateTiny() => new(BuildProvider($$"""{ "max_memory_mb": 512, "models": [ {{Onnx("tiny", TinyGpt2)}} ] }"""), "tiny");

    /// <summary>A huggingface model entry: greedy, 10 tokens, parallel 4 unless <paramref name="extra"/> says otherwise.</summary>
    public static string Onnx(string name, string path, int priority = 3, string extra = "", string type = "huggingface") =>
        $$"""{ "name": "{{name}}", "type": "{{type}}", "path": {{JsonSerializer.Serialize(path)}}, "memory_priority": {{priority}}, "parameters": { "do_sample": false, "max_tokens": 10 } {{(extra.Length > 0 ? ", " + extra : "")}} }""";

    /// <summary>A writable copy of the tiny model in a new scratch folder, for tests that alter files.</summary>
    public static string CopyTiny() => TestCache.CopyToScratch(TinyGpt2);

    /// <summary>Rewrites a copied folder's genai_config.json through <paramref name="edit"/> (on its "model" object).</summary>
    public static void EditConfig(string folder, Action<System.Text.Json.Nodes.JsonObject> edit)
    {
        var path = Path.Combine(folder, "genai_config.json");
        var root = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(root["model"]!.AsObject());
        File.WriteAllText(path, root.ToJsonString());
    }

    /// <summary>A descriptor as the manager would build it, for driving the backend directly.</summary>
    public static ModelDescriptor Descriptor(string name, string? path, int? contextLength = null, IReadOnlyDictionary<string, string?>? settings = null, GenerationOptions? parameters = null) =>
        new(name, "huggingface", path, contextLength, parameters ?? new GenerationOptions { DoSample = false, MaxTokens = 10 }, 3, TimeSpan.Zero, false, [],
            settings ?? new Dictionary<string, string?>(), "models[0]");

    /// <summary>Loads a model straight through the backend, without a manager, to reach the instance's internals (token ids).</summary>
    public static async Task<Direct> LoadDirectAsync(string name, string path, int? contextLength = null, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var backend = new OnnxGenAIBackend();
        try
        {
            var instance = (OnnxGenAIModel)await backend.LoadAsync(Descriptor(name, path, contextLength, settings), null, CancellationToken.None);
            return new Direct(backend, instance);
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>Collects every id a generation yields.</summary>
    public static async Task<int[]> TokensAsync(OnnxGenAIModel model, int[] prompt, GenerationOptions options, CancellationToken cancellationToken = default)
    {
        var ids = new List<int>();
        await foreach (var token in model.GenerateTokensAsync(prompt, options, cancellationToken))
        {
            ids.Add(token.Id);
        }

        return ids.ToArray();
    }

    private static ServiceProvider BuildProvider(string json)
    {
        var path = Path.Combine(TestCache.NewScratchDirectory(), "config.json");
        File.WriteAllText(path, json);
        var services = new ServiceCollection();
        services.AddModelManager(path).AddOnnxGenAI().AddLlamaSharp().AddFakeBackend();
        return services.BuildServiceProvider();
    }

    /// <summary>A backend and one instance it loaded; disposing unloads both.</summary>
    public sealed class Direct(OnnxGenAIBackend backend, OnnxGenAIModel model) : IAsyncDisposable
    {
        public OnnxGenAIBackend Backend { get; } = backend;

        public OnnxGenAIModel Model { get; } = model;

        public async ValueTask DisposeAsync()
        {
            await Model.DisposeAsync();
            Backend.Dispose();
        }
    }
}
