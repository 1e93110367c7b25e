using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>Log lines of the gguf backend, with fixed event ids.</summary>
internal static partial class LlamaSharpLog
{
    [LoggerMessage(2000, LogLevel.Error, "The generation loop of model {Model} failed; its requests were failed")]
    public static partial void GeneratorFailed(ILogger logger, string model, Exception exception);
}
