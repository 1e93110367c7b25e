using LLama.Native;
using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>Sends llama.cpp's log to an <see cref="ILogger"/> instead of stderr, joining the pieces it sends into lines.</summary>
/// <remarks>Process-wide, as llama.cpp's log is: the last backend created decides where lines go.</remarks>
internal static class LlamaSharpNativeLog
{
    private static readonly Lock Gate = new();
    private static ILogger? _logger;
    private static LogLevel _level;
    private static string _partial = "";
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
        lock (Gate)
        {
            _partial += message;
            if (!_partial.EndsWith('\n'))
            {
                return;
            }

            line = _partial.TrimEnd();
            _partial = "";
            logger = _logger;
        }

        if (logger is not null && line.Length > 0 && logger.IsEnabled(_level))
        {
#pragma warning disable CA1848, CA2254 // native text is the message; no template exists
            logger.Log(_level, "{NativeLevel}: {Line}", level, line);
#pragma warning restore CA1848, CA2254
        }
    }
}
