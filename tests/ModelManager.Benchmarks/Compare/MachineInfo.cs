using System.Globalization;
using System.Runtime.InteropServices;

namespace ModelManager.Benchmarks.Compare;

/// <summary>What the numbers were measured on: CPU, cores, memory, OS, runtime, and how busy the machine was.</summary>
internal sealed record MachineInfo(string Cpu, int Cores, double RamGiB, string Os, string Runtime, string TransparentHugePages)
{
    public static MachineInfo Current() => new(ReadCpu(), Environment.ProcessorCount, ReadRamGiB(), ReadOs(), RuntimeInformation.FrameworkDescription, ReadThp());

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Cpu}, {Cores} cores, {RamGiB:F0} GiB RAM, {Os}, {Runtime}, THP {TransparentHugePages}");

    /// <summary>The transparent-huge-page mode (<c>always</c>, <c>madvise</c>, <c>never</c>), or "n/a" where the kernel has none.</summary>
    public static string ReadThp()
    {
        try
        {
            var text = File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled");
            var (open, close) = (text.IndexOf('[', StringComparison.Ordinal), text.IndexOf(']', StringComparison.Ordinal));
            return open >= 0 && close > open ? text[(open + 1)..close] : "n/a";
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "n/a";
        }
    }

    /// <summary>The 1, 5 and 15-minute load averages from /proc/loadavg, or null off Linux.</summary>
    public static (double One, double Five, double Fifteen)? LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return (Parse(parts[0]), Parse(parts[1]), Parse(parts[2]));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or IndexOutOfRangeException or FormatException)
        {
            return null;
        }

        static double Parse(string s) => double.Parse(s, CultureInfo.InvariantCulture);
    }

    public static string LoadAverageText() =>
        LoadAverage() is { } l ? string.Create(CultureInfo.InvariantCulture, $"{l.One:F2} {l.Five:F2} {l.Fifteen:F2}") : "n/a";

    private static string ReadCpu()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal))
                {
                    return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
                }
            }
        }
        catch (IOException)
        {
        }

        return RuntimeInformation.ProcessArchitecture.ToString();
    }

    private static double ReadRamGiB()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/meminfo"))
            {
                if (line.StartsWith("MemTotal:", StringComparison.Ordinal))
                {
                    var kb = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                    return kb / 1024.0 / 1024.0;
                }
            }
        }
        catch (IOException)
        {
        }

        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (double)(1L << 30);
    }

    private static string Kernel()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return Environment.OSVersion.Version.ToString();
        }
    }

    private static string ReadOs()
    {
        try
        {
            foreach (var line in File.ReadLines("/etc/os-release"))
            {
                if (line.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))
                {
                    return $"{line["PRETTY_NAME=".Length..].Trim('"')} (kernel {Kernel()})";
                }
            }
        }
        catch (IOException)
        {
        }

        return RuntimeInformation.OSDescription;
    }
}
