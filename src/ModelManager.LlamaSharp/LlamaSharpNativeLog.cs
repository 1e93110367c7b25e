using LLama.Native;
using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>Sends llama.cpp's log to an <see cref="ILogger"/> instead of stderr, joining the pieces it sends into lines.</summary>
/// <remarks>
/// Process-wide, as llama.cpp's log is: the last backend created decides where lines go. A line keeps llama.cpp's level
/// (errors are Error, warnings Warning), except that its informational and debug lines are written no higher than the
/// configured level (Debug by default), so a run prints llama.cpp's problems and nothing else unless asked.
/// </remarks>
internal static class LlamaSharpNativeLog
{
    private static readonly Lock Gate = new();
    private static ILogger? _logger;
    private static LogLevel _level;
    private static string _partial = "";
    private static LLamaLogLevel _partialLevel = LLamaLogLevel.Info;
    private static bool _installed;

    public static void Route(ILogger logger, LogLevel level)
    {
        lock (Gate)
        {
            _logger = logger;
            _level = level;
            if (_installed)
            {
                return;
            }

            _installed = true;
        }

        try
        {
            NativeLibraryConfig.All.WithLogCallback(OnLog);
        }
        catch (InvalidOperationException)
        {
            // The native library is already loaded: set the callback directly.
            NativeLogConfig.llama_log_set(OnLog);
        }
    }

    private static void OnLog(LLamaLogLevel level, string message)
    {
        string line;
        ILogger? logger;
        LLamaLogLevel lineLevel;
        lock (Gate)
        {
            if (_partial.Length == 0 && level is not (LLamaLogLevel.Continue or LLamaLogLevel.None))
            {
                _partialLevel = level; // a continuation piece belongs to the line its first piece began
            }

            _partial += message;
            if (!_partial.EndsWith('\n'))
            {
                return;
            }

            line = _partial.TrimEnd();
            _partial = "";
            logger = _logger;
            lineLevel = _partialLevel;
        }

        var at = LevelOf(lineLevel, _level);
        if (logger is not null && line.Length > 0 && logger.IsEnabled(at))
        {
#pragma warning disable CA1848, CA2254 // native text is the message; no template exists
            logger.Log(at, "{NativeLevel}: {Line}", lineLevel, line);
#pragma warning restore CA1848, CA2254
        }
    }

    /// <summary>The level a native line is written at: llama.cpp's own for errors and warnings; for the rest, its own but no higher than <paramref name="quiet"/>.</summary>
    internal static LogLevel LevelOf(LLamaLogLevel native, LogLevel quiet) => native switch
    {
        LLamaLogLevel.Error => LogLevel.Error,
        LLamaLogLevel.Warning => LogLevel.Warning,
        LLamaLogLevel.Debug => quiet < LogLevel.Debug ? quiet : LogLevel.Debug,
        _ => quiet < LogLevel.Information ? quiet : LogLevel.Information,
    };
}
