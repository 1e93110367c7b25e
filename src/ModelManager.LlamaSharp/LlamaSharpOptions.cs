using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>Process-wide settings of the <c>gguf</c> backend; per-model settings live in the model's config entry.</summary>
public sealed class LlamaSharpOptions
{
    /// <summary>Concurrent sequences per model when a model sets no <c>parallel</c>. Default 4.</summary>
    public int DefaultParallel { get; set; } = LlamaSharpModelSettings.DefaultParallel;

    /// <summary>Context length per sequence when a model sets no <c>context_length</c>: the model's own, capped at this. Default 4096.</summary>
    public int DefaultContextLength { get; set; } = LlamaSharpModelSettings.DefaultContextLength;

    /// <summary>Whether llama.cpp's native log goes to <see cref="ILogger"/> (category <c>ModelManager.LlamaSharp.Native</c>) instead of stderr. Default true.</summary>
    public bool RouteNativeLog { get; set; } = true;

    /// <summary>
    /// The highest level llama.cpp's informational and debug lines are written at; its warnings and errors keep theirs
    /// (Warning, Error). Default <see cref="LogLevel.Debug"/>, so a run prints llama.cpp's problems and nothing else unless asked.
    /// </summary>
    public LogLevel NativeLogLevel { get; set; } = LogLevel.Debug;
}
