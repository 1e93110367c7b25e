using System.Text.Json;
using LLama.Common;
using LLama.Native;

namespace ModelManager.Benchmarks.Compare;

/// <summary>One gguf model's settings, written both as a manager config entry and as the <see cref="ModelParams"/> a direct caller would pass.</summary>
/// <param name="Path">The .gguf file.</param>
/// <param name="ContextLength">Tokens per sequence (<c>context_length</c>).</param>
/// <param name="Parallel">Sequences decoded together (<c>parallel</c>).</param>
/// <param name="Threads">llama.cpp threads (<c>threads</c>), or null for llama.cpp's default.</param>
internal sealed record GgufSetup(string Path, int ContextLength, int Parallel, int? Threads = null)
{
    /// <summary>The manager's config entry for this model: greedy decoding.</summary>
    public string Json(string name, int maxTokens) =>
        $$"""{ "name": "{{name}}", "type": "gguf", "path": {{JsonSerializer.Serialize(Path)}}, "context_length": {{ContextLength}}, "parallel": {{Parallel}}{{(Threads is { } t ? $", \"threads\": {t}" : "")}}, "parameters": { "do_sample": false, "max_tokens": {{maxTokens}} } }""";

    /// <summary>Exactly what the gguf backend passes to LLamaSharp for the entry above (LlamaSharpBackend.LoadAsync).</summary>
    public ModelParams Params()
    {
        var p = new ModelParams(Path)
        {
            ContextSize = checked((uint)(ContextLength * Parallel)),
            SeqMax = (uint)Parallel,
            GpuLayerCount = 0,
            LoadMode = LLamaLoadMode.None,
            BatchSize = 512,
            UBatchSize = 512,
        };
        if (Threads is { } threads)
        {
            p.Threads = threads;
            p.BatchThreads = threads;
        }

        return p;
    }

    /// <summary>A manager config holding <paramref name="models"/>, with a budget of <paramref name="maxMemoryMb"/>.</summary>
    public static string Config(long maxMemoryMb, params string[] models) =>
        $$"""{ "max_memory_mb": {{maxMemoryMb}}, "load_wait_timeout": 60, "models": [ {{string.Join(", ", models)}} ] }""";
}
