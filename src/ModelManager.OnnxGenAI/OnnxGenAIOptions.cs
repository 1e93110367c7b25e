namespace ModelManager;

/// <summary>Process-wide settings of the <c>huggingface</c> (ONNX Runtime GenAI) backend; per-model settings live in the model's config entry.</summary>
public sealed class OnnxGenAIOptions
{
    /// <summary>Most concurrent generations per model when a model sets no <c>parallel</c>. Default 4.</summary>
    public int DefaultParallel { get; set; } = OnnxGenAIModelSettings.DefaultParallel;

    /// <summary>Most tokens generated per call when neither the call nor the model's <c>parameters</c> set <c>max_tokens</c>. Default 256.</summary>
    public int DefaultMaxTokens { get; set; } = GenerationDefaults.MaxTokens;

    /// <summary>Execution providers for models that set no <c>providers</c>, e.g. <c>["cuda"]</c>. Default empty: CPU.</summary>
    public IList<string> DefaultProviders { get; set; } = [];
}
