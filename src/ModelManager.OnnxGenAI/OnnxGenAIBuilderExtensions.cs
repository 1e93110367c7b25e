namespace ModelManager;

/// <summary>Registers the <c>huggingface</c> backend (ONNX Runtime GenAI).</summary>
public static class OnnxGenAIBuilderExtensions
{
    /// <summary>Adds type <c>huggingface</c> (alias <c>onnx</c>): model folders converted for ONNX Runtime GenAI, run on CPU or a configured execution provider.</summary>
    public static ModelManagerBuilder AddOnnxGenAI(this ModelManagerBuilder builder, Action<OnnxGenAIOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddBackend<OnnxGenAIBackend, OnnxGenAIOptions, OnnxGenAIOptionsValidator>(configure);
    }
}
