using System.Runtime.InteropServices;

namespace ModelManager.IntegrationTests;

/// <summary>Makes resident-memory figures show live memory rather than glibc's caches.</summary>
internal static partial class NativeHeap
{
    /// <summary>glibc raises its mmap threshold after big frees and then serves big blocks from memory freed earlier, which
    /// hides them from RSS (and keeps freed ones in it); a fixed threshold gives every buffer above 128 KiB its own pages.</summary>
    public static void FixMallocThreshold()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        try
        {
            _ = MallOpt(-3 /* M_MMAP_THRESHOLD */, 128 * 1024);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl): measurements are then a little noisier.
        }
    }

    /// <summary>Collects the managed heap, returns glibc's free pages, and reads VmRSS.</summary>
    public static long TrimmedRss()
    {
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        try
        {
            _ = MallocTrim(0);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
        }

        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
