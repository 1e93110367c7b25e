namespace ModelManager;

/// <summary>Registers the <c>openai</c> backend (OpenAI-compatible HTTP endpoints).</summary>
public static class OpenAIBuilderExtensions
{
    /// <summary>Adds type <c>openai</c>: models served by OpenAI-compatible endpoints (OpenAI, Ollama, llama.cpp's server, vLLM, ModelServer).</summary>
    public static ModelManagerBuilder AddOpenAI(this ModelManagerBuilder builder, Action<OpenAIOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddBackend<OpenAIBackend, OpenAIOptions, OpenAIOptionsValidator>(configure);
    }
}
