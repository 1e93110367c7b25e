namespace ModelManager.Tests;

/// <summary>Tests that read the process's resident memory: run alone, since a test beside them can free or allocate meanwhile (one measured 144 MB of a 200 MB model that way).</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunAlone
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Run alone";
}

[Collection(RunAlone.Name)]
public sealed class ResidentMemoryTests
{
    private const long Mb = 1024 * 1024;

    [Fact]
    public async Task FakeModel_AllocatesRealResidentMemory()
    {
        var (m, backend) = FromJson(Config(1000, Fake("big", 200)));
        var before = ResidentBytes();
        await m.LoadModelAsync("big");
        var after = ResidentBytes();
        Assert.Equal(200 * Mb, backend.LiveBytes);
        Assert.True(after - before > 150 * Mb, $"resident memory grew by {(after - before) / Mb} MB, expected about 200 MB");
        await m.UnloadModelAsync("big");
        Assert.Equal(0, backend.LiveBytes);
    }

    private static long ResidentBytes()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        System.Diagnostics.Process.GetCurrentProcess().Refresh();
        return System.Diagnostics.Process.GetCurrentProcess().WorkingSet64;
    }
}
