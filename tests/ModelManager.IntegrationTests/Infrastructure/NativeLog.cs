using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using LLama.Native;

namespace ModelManager.IntegrationTests;

/// <summary>Routes llama.cpp's log away from stderr into a small in-memory tail that tests can quote.</summary>
internal static class NativeLog
{
    private const int Capacity = 400;
    private static readonly ConcurrentQueue<string> Lines = new();
    private static readonly Lock PartialLock = new();
    private static string _partial = "";

    /// <summary>Recent complete log lines containing <paramref name="fragment"/>, oldest first.</summary>
    public static IReadOnlyList<string> Recent(string fragment) =>
        Lines.Where(l => l.Contains(fragment, StringComparison.Ordinal)).ToList();

#pragma warning disable CA2255 // A test assembly: the callback must be set before any test touches native code.
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Install()
    {
        try
        {
            NativeLibraryConfig.All.WithLogCallback(OnLog);
        }
        catch (InvalidOperationException)
        {
            // The native library was already loaded by someone else; its log then goes to stderr.
        }
    }

    private static void OnLog(LLamaLogLevel level, string message)
    {
        // llama.cpp sends a line in pieces; join them so lines can be searched.
        lock (PartialLock)
        {
            _partial += message;
            if (!_partial.EndsWith('\n'))
            {
                return;
            }

            Lines.Enqueue(_partial.TrimEnd());
            _partial = "";
        }

        while (Lines.Count > Capacity && Lines.TryDequeue(out _))
        {
        }
    }
}
