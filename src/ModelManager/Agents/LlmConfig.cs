using System.Text.Json.Serialization;

namespace ModelManager;

/// <summary>The integration guide's <c>get_llm_for_memos</c> result: a backend name and the settings a MemOS-style consumer expects.</summary>
/// <param name="Backend">The backend type (<c>huggingface</c>, <c>gguf</c>, ...).</param>
/// <param name="Config">The model's settings.</param>
public sealed record LlmConfig(
    [property: JsonPropertyName("backend")] string Backend,
    [property: JsonPropertyName("config")] LlmModelConfig Config);

/// <summary>The <c>config</c> part of <see cref="LlmConfig"/>.</summary>
/// <param name="ModelNameOrPath">The model's path (or name, when it has no path).</param>
/// <param name="Temperature">The configured temperature, if any.</param>
/// <param name="MaxTokens">The configured max_tokens, if any.</param>
public sealed record LlmModelConfig(
    [property: JsonPropertyName("model_name_or_path")] string ModelNameOrPath,
    [property: JsonPropertyName("temperature")] double? Temperature,
    [property: JsonPropertyName("max_tokens")] int? MaxTokens);
