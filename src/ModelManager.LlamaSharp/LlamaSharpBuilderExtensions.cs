namespace ModelManager;

/// <summary>Registers the <c>gguf</c> backend (LLamaSharp).</summary>
public static class LlamaSharpBuilderExtensions
{
    /// <summary>Adds type <c>gguf</c>: GGUF models run through LLamaSharp. The app picks the native package (LLamaSharp.Backend.Cpu, .Cuda12, ...).</summary>
    public static ModelManagerBuilder AddLlamaSharp(this ModelManagerBuilder builder, Action<LlamaSharpOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddBackend<LlamaSharpBackend, LlamaSharpOptions, LlamaSharpOptionsValidator>(configure);
    }
}
