using System.Globalization;
using System.Runtime.InteropServices;

namespace ModelManager.Benchmarks;

/// <summary>Resident-memory readings that show live memory rather than glibc's caches.</summary>
/// <remarks>Public because the integration tests measure with it too: one place for the glibc tuning both rely on.</remarks>
public static partial class ProcessMemory
{
    /// <summary>
    /// glibc raises its mmap threshold after big frees and then serves big blocks from memory freed earlier, which hides
    /// them from RSS (and keeps freed ones in it); a fixed threshold gives every buffer above 128 KiB its own pages. Call first thing in a process.
    /// </summary>
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
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (e.g. musl): measurements are then a little noisier.
        }
    }

    /// <summary>Collects the managed heap, returns glibc's free pages to the OS, and reads VmRSS in bytes.</summary>
    public static long TrimmedRss()
    {
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect();
        try
        {
            _ = MallocTrim(0);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc: nothing to trim.
        }

        return Rss();
    }

    /// <summary>VmRSS of this process in bytes (the working set off Linux).</summary>
    public static long Rss()
    {
        if (!OperatingSystem.IsLinux())
        {
            return Environment.WorkingSet;
        }

        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return 0;
    }

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int MallOpt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);
}
