using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>Log lines of the huggingface (ONNX Runtime GenAI) backend, with fixed event ids.</summary>
internal static partial class OnnxGenAILog
{
    [LoggerMessage(3000, LogLevel.Debug, "ONNX model {Model} ({ModelType}) loaded in {DurationMs:F0} ms: context {Context}, parallel {Parallel}, providers [{Providers}], chat format {ChatFormat}; process grew by {GrowthMb:F1} MB, ONNX files {FilesMb:F1} MB")]
    public static partial void Loaded(ILogger logger, string model, string modelType, double durationMs, int context, int parallel, string providers, OnnxChatFormat chatFormat, double growthMb, double filesMb);

    [LoggerMessage(3001, LogLevel.Warning, "The chat template in the tokenizer of model {Model} failed on a two-message probe, so chat uses the plain format: {Reason}")]
    public static partial void TokenizerTemplateUnusable(ILogger logger, string model, string reason);

    [LoggerMessage(3002, LogLevel.Debug, "ONNX encoder {Model} loaded in {DurationMs:F0} ms: {Dimensions} dimensions, context {Context}, batch {BatchSize}; process grew by {GrowthMb:F1} MB, ONNX files {FilesMb:F1} MB")]
    public static partial void EncoderLoaded(ILogger logger, string model, double durationMs, int dimensions, int context, int batchSize, double growthMb, double filesMb);

    [LoggerMessage(3003, LogLevel.Debug, "{Runtime} started on its one-node start model in {DurationMs:F0} ms; the process grew by {GrowthMb:F1} MB, which no model is charged")]
    public static partial void RuntimeStarted(ILogger logger, string runtime, double durationMs, double growthMb);

    [LoggerMessage(3004, LogLevel.Warning, "{Runtime} refused its one-node start model, so the next model's measured memory includes the runtime's one-time start")]
    public static partial void RuntimeStartFailed(ILogger logger, string runtime, Exception exception);
}
