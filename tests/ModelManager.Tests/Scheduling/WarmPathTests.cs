namespace ModelManager.Tests;

public sealed class WarmPathTests
{
    [Fact]
    public async Task LeaseOnALoadedModel_AllocatesNothing()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)), TimeProvider.System);
        await m.LoadModelAsync("a");
        var handle = (ModelHandle)m.GetModel("a");

        var accessesBefore = m.GetModelStats()["a"].AccessCount;

        // Warm up (JIT, tiering), then measure the lookup + lease + release cycle.
        for (var i = 0; i < 1000; i++)
        {
            Cycle(m, handle);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            Cycle(m, handle);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(0, m.GetModelStats()["a"].ActiveLeases);
        Assert.Equal(accessesBefore + 11_000, m.GetModelStats()["a"].AccessCount);
    }

    private static void Cycle(DefaultModelManager m, ModelHandle handle)
    {
        var same = (ModelHandle)m.GetModel("a");
        Assert.True(m.TryAcquireFast(same.Chain[0], out var lease));
        m.Release(lease.Entry);
        Assert.Same(handle, same);
    }
}
