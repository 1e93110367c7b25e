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

        // Warm up (JIT, tiering), then measure the lookup + lease + admission + release cycle.
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
        Assert.Equal(0, m.GetModelStats()["a"].ActiveCalls);
        Assert.Equal(accessesBefore + 11_000, m.GetModelStats()["a"].AccessCount);
    }

    [Fact]
    public async Task AccessCount_CountsOnPastTwoToThe32_WhileTheLeaseCountStaysExact()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)));
        await m.LoadModelAsync("a");
        var entry = ((ModelHandle)m.GetModel("a")).Primary;
        var word = typeof(ModelEntry).GetField("_leaseWord", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        word.SetValue(entry, (long)(uint.MaxValue - 1) << 32); // two leases short of the high half's wrap, no lease held

        Assert.True(m.TryAcquireFast(entry, out var first));
        Assert.True(m.TryAcquireFast(entry, out var second)); // this one wraps the packed counter
        Assert.Equal(2, entry.Leases);
        Assert.Equal(1L << 32, entry.AccessCount);
        m.Release(first.Entry);
        m.Release(second.Entry);

        Assert.Equal(0, entry.Leases);
        Assert.Equal(1L << 32, m.GetModelStats()["a"].AccessCount);
        Assert.True(m.TryAcquireFast(entry, out var third));
        m.Release(third.Entry);
        Assert.Equal((1L << 32) + 1, entry.AccessCount);
    }

    [Fact]
    public async Task TryAcquireFast_OnAnUnloadedModel_CountsNeitherALeaseNorAnAccess()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)));
        await m.LoadModelAsync("a");
        var entry = ((ModelHandle)m.GetModel("a")).Primary;
        var accesses = entry.AccessCount;
        await m.UnloadModelAsync("a");

        Assert.False(m.TryAcquireFast(entry, out _));

        Assert.Equal(0, entry.Leases);
        Assert.Equal(accesses, entry.AccessCount);
    }

    /// <summary>What a call on a loaded model does around the backend: the handle, the call's lease and admission, their end.</summary>
    private static void Cycle(DefaultModelManager m, ModelHandle handle)
    {
        var same = (ModelHandle)m.GetModel("a");
        Assert.True(same.TryBeginCall(same.Chain, out var lease));
        Assert.True(lease.Entry.Calls == 1, "the call is admitted"); // not Assert.Equal: its comparer allocates
        same.EndCall(lease);
        Assert.Same(handle, same);
    }
}
