using Microsoft.Extensions.AI;

namespace ModelManager.Tests;

/// <summary>The budget's policy on bare entries: no manager, no backend, no clock but the timestamps given.</summary>
public sealed class MemoryBudgetTests
{
    private const long Mb = 1024 * 1024;

    [Fact]
    public void IsEvictable_Now_OnlyReadyIdleAndNoMoreImportantModelsOtherThanTheRequester()
    {
        var idle = Ready("idle", priority: 3);
        var leased = Ready("leased", priority: 3);
        Assert.True(leased.TryLease(out _, out _));
        var important = Ready("important", priority: 1);
        var loading = Entry("loading", priority: 5);
        BeginLoad(loading);

        Assert.True(MemoryBudget.IsEvictable(idle, minPriorityNumber: 3, requester: null));
        Assert.False(MemoryBudget.IsEvictable(idle, minPriorityNumber: 3, requester: idle));
        Assert.False(MemoryBudget.IsEvictable(idle, minPriorityNumber: 4, requester: null));
        Assert.False(MemoryBudget.IsEvictable(leased, minPriorityNumber: 3, requester: null));
        Assert.False(MemoryBudget.IsEvictable(important, minPriorityNumber: 3, requester: null));
        Assert.False(MemoryBudget.IsEvictable(loading, minPriorityNumber: 3, requester: null));
    }

    [Fact]
    public void IsEvictable_Eventually_CountsLeasedModelsAndMemoryInFlightOfAnyPriority()
    {
        var leased = Ready("leased", priority: 3);
        Assert.True(leased.TryLease(out _, out _));
        var loading = Entry("loading", priority: 1);
        BeginLoad(loading);
        var important = Ready("important", priority: 1);

        Assert.True(MemoryBudget.IsEvictable(leased, 3, null, eventually: true));
        Assert.True(MemoryBudget.IsEvictable(loading, 3, null, eventually: true));
        Assert.False(MemoryBudget.IsEvictable(important, 3, null, eventually: true));
    }

    [Fact]
    public void TryReserve_Fits_ChargesTheEntry()
    {
        var entry = Entry("a");
        var budget = new MemoryBudget(100 * Mb, [entry]);

        var step = budget.TryReserve(entry, 40 * Mb);

        Assert.True(step.Reserved);
        Assert.Equal(40 * Mb, budget.UsedBytes);
        Assert.Equal(40 * Mb, entry.Memory.Charged);
    }

    [Fact]
    public void TryReserve_Full_BeginsEvictingTheLeastImportantThenLeastRecentlyUsed()
    {
        var oldFive = Ready("old-5", priority: 5, lastAccess: 1);
        var newFive = Ready("new-5", priority: 5, lastAccess: 2);
        var two = Ready("two", priority: 2, lastAccess: 0);
        var requester = Entry("new", priority: 3);
        var budget = Charged(100 * Mb, (oldFive, 30 * Mb), (newFive, 30 * Mb), (two, 30 * Mb));
        budget.UpdateEntries(e => [.. e, requester]);

        var step = budget.TryReserve(requester, 30 * Mb);

        Assert.Equal([oldFive], step.Victims!);
        Assert.Equal(ModelState.Unloading, oldFive.State);
        Assert.Equal(UnloadReason.Capacity, oldFive.UnloadReason);
        Assert.Equal(ModelState.Ready, newFive.State);
        Assert.Equal(ModelState.Ready, two.State);
    }

    [Fact]
    public void TryReserve_MemoryAlreadyBeingFreed_WaitsInsteadOfEvictingMore()
    {
        var a = Ready("a", priority: 5, lastAccess: 1);
        var b = Ready("b", priority: 5, lastAccess: 2);
        var first = Entry("first");
        var second = Entry("second");
        var budget = Charged(100 * Mb, (a, 40 * Mb), (b, 40 * Mb));
        budget.UpdateEntries(e => [.. e, first, second]);
        Assert.Equal([a], budget.TryReserve(first, 30 * Mb).Victims!);

        // a's 40 MB are on their way out and cover what 'second' lacks: it waits for them rather than evicting b too.
        var step = budget.TryReserve(second, 30 * Mb);

        Assert.Null(step.Victims);
        Assert.NotNull(step.Changed);
        Assert.True(budget.WantsDrainSignal);
        Assert.Equal(ModelState.Ready, b.State);
        budget.EndWait();
        Assert.False(budget.WantsDrainSignal);
    }

    [Fact]
    public void TryReserve_OnlyLeasedVictims_WaitsForTheSignal()
    {
        var leased = Ready("leased", priority: 5);
        Assert.True(leased.TryLease(out _, out _));
        var requester = Entry("new");
        var budget = Charged(100 * Mb, (leased, 80 * Mb));
        budget.UpdateEntries(e => [.. e, requester]);

        var step = budget.TryReserve(requester, 40 * Mb);

        Assert.False(step.Changed!.IsCompleted);
        budget.SignalChanged();
        Assert.True(step.Changed.IsCompletedSuccessfully);
        Assert.Equal(ModelState.Ready, leased.State);
    }

    [Fact]
    public void TryReserve_HeldByMoreImportantModels_ThrowsNamingTheHolders()
    {
        var important = Ready("important", priority: 1);
        var requester = Entry("new", priority: 3);
        var budget = Charged(100 * Mb, (important, 80 * Mb));
        budget.UpdateEntries(e => [.. e, requester]);

        var e = Assert.Throws<ModelMemoryException>(() => budget.TryReserve(requester, 40 * Mb));

        Assert.Contains("more important models", e.Message);
        Assert.Contains("important (80.0 MB, Ready, 0 lease(s), priority 1)", e.Message);
        Assert.Equal(ModelState.Ready, important.State);
    }

    [Fact]
    public void TryReserve_LargerThanTheWholeBudget_Throws()
    {
        var entry = Entry("huge");
        var budget = new MemoryBudget(100 * Mb, [entry]);

        var e = Assert.Throws<ModelMemoryException>(() => budget.TryReserve(entry, 101 * Mb));

        Assert.Contains("more than the whole budget", e.Message);
        Assert.Equal(0, budget.UsedBytes);
    }

    [Fact]
    public void SelectOverLimitVictims_LowerLimit_EvictsIdleModelsOfAnyPriorityUntilItFits_ThenWaitsForLeases()
    {
        var idle = Ready("idle", priority: 1);
        var leased = Ready("leased", priority: 5);
        Assert.True(leased.TryLease(out _, out _));
        var budget = Charged(100 * Mb, (idle, 40 * Mb), (leased, 40 * Mb));

        budget.SetLimit(30 * Mb);
        var victims = budget.SelectOverLimitVictims(UnloadReason.MemoryLimit, minPriorityNumber: 1, requester: null);

        Assert.Equal([idle], victims!);
        Assert.Equal(UnloadReason.MemoryLimit, idle.UnloadReason);
        budget.Release(idle);
        Assert.Null(budget.SelectOverLimitVictims(UnloadReason.MemoryLimit, 1, null));
        Assert.True(budget.IsOverLimit);
        Assert.True(budget.WantsDrainSignal);
    }

    [Fact]
    public void EnsureFitsNow_CountsIdleModelsAsRoom_ButNotLeasedOnes()
    {
        var idle = Ready("idle", priority: 4);
        var leased = Ready("leased", priority: 4);
        var candidate = Entry("candidate", priority: 3);
        var budget = Charged(100 * Mb, (idle, 40 * Mb), (leased, 40 * Mb));
        budget.UpdateEntries(e => [.. e, candidate]);

        budget.EnsureFitsNow(candidate, 60 * Mb);
        Assert.True(leased.TryLease(out _, out _));
        var e = Assert.Throws<ModelMemoryException>(() => budget.EnsureFitsNow(candidate, 61 * Mb));

        Assert.Contains("in use or more important", e.Message);
        Assert.Equal(ModelState.Ready, idle.State); // checking never begins an eviction
    }

    [Fact]
    public void ChargeLoaded_MoreThanReserved_ChargesTheActualSizeAndReportsTheOverrun()
    {
        var entry = Entry("a");
        var budget = new MemoryBudget(100 * Mb, [entry]);
        Assert.True(budget.TryReserve(entry, budget.RecordEstimate(entry, 50 * Mb)).Reserved);

        var over = budget.ChargeLoaded(entry, 50 * Mb, actual: 120 * Mb);

        Assert.Equal(20 * Mb, over);
        Assert.Equal(120 * Mb, budget.UsedBytes);
        Assert.Equal(120 * Mb, budget.Release(entry));
        Assert.Equal(0, budget.UsedBytes);

        // 120 MB is more than the whole budget: one more load on the estimate, in case the measurement held one-time costs.
        Assert.Equal(50 * Mb, budget.RecordEstimate(entry, 50 * Mb));
        Assert.True(budget.TryReserve(entry, 50 * Mb).Reserved);
        budget.ChargeLoaded(entry, 50 * Mb, actual: 120 * Mb);
        budget.Release(entry);
        Assert.Equal(120 * Mb, budget.RecordEstimate(entry, 50 * Mb)); // measured again: the next load reserves what it really used

        // Within the budget, a measurement counts at once.
        var fits = Entry("b");
        var wide = new MemoryBudget(200 * Mb, [fits]);
        Assert.True(wide.TryReserve(fits, wide.RecordEstimate(fits, 50 * Mb)).Reserved);
        wide.ChargeLoaded(fits, 50 * Mb, actual: 120 * Mb);
        wide.Release(fits);
        Assert.Equal(120 * Mb, wide.RecordEstimate(fits, 50 * Mb));
    }

    [Fact]
    public void Caches_AreChargedAsTheyGrow_OnlyWithinTheLimit_AndNotAfterRelease()
    {
        var a = Ready("a");
        var budget = Charged(100 * Mb, (a, 60 * Mb));
        var grant = budget.CreateGrant(a);

        Assert.True(grant.TryGrow(30 * Mb));
        Assert.False(grant.TryGrow(11 * Mb)); // 101 MB: over the limit, refused rather than evicting anything
        Assert.Equal(90 * Mb, budget.UsedBytes);
        Assert.Equal(90 * Mb, a.Memory.Charged);
        Assert.Equal(30 * Mb, budget.GetUsage().Models["a"].CacheBytes);

        grant.Shrink(50 * Mb); // more than granted: gives back what it holds
        Assert.Equal(60 * Mb, budget.UsedBytes);
        Assert.True(grant.TryGrow(10 * Mb));

        Assert.Equal(70 * Mb, budget.Release(a));
        Assert.False(grant.TryGrow(Mb)); // revoked with the unload
        grant.Shrink(10 * Mb);
        Assert.Equal(0, budget.UsedBytes);
    }

    [Fact]
    public void TryReserve_Full_ReclaimsCaches_BeforeEvicting_EvenOfMoreImportantModels()
    {
        var important = Ready("important", priority: 1, lastAccess: 2);
        var idle = Ready("idle", priority: 5, lastAccess: 1);
        var requester = Entry("new", priority: 3);
        var budget = Charged(100 * Mb, (important, 40 * Mb), (idle, 30 * Mb));
        budget.UpdateEntries(e => [.. e, requester]);
        Assert.True(budget.CreateGrant(important).TryGrow(25 * Mb));

        // 95 MB used: 20 MB needed, the cache covers it, so no model is touched.
        var step = budget.TryReserve(requester, 25 * Mb);

        Assert.Null(step.Victims);
        Assert.Equal([(important, 20 * Mb)], step.Reclaims!);
        Assert.Equal(ModelState.Ready, idle.State);

        // A cache that would not cover it: the idle model goes first, and the cache stays.
        var large = budget.TryReserve(requester, 33 * Mb); // 28 MB needed: more than the cache, less than the idle model
        Assert.Null(large.Reclaims);
        Assert.Equal([idle], large.Victims!);

        // With reclaim switched off (a round freed nothing), eviction is the only way.
        Assert.Null(budget.TryReserve(requester, 25 * Mb, reclaim: false).Reclaims);
    }

    [Fact]
    public void ACacheOfAModelTheLoadMayNotEvict_StillCountsAsRoom()
    {
        var important = Ready("important", priority: 1);
        var requester = Entry("new", priority: 5);
        var budget = Charged(100 * Mb, (important, 60 * Mb));
        budget.UpdateEntries(e => [.. e, requester]);
        Assert.True(budget.CreateGrant(important).TryGrow(35 * Mb));

        var step = budget.TryReserve(requester, 30 * Mb);

        Assert.Equal([(important, 25 * Mb)], step.Reclaims!);
    }

    [Fact]
    public void EnsureFitsNow_CountsCaches_AsRoomAFallbackCanHaveAtOnce()
    {
        var important = Ready("important", priority: 1);
        Assert.True(important.TryLease(out _, out _)); // leased and more important: not evictable
        var fallback = Entry("fallback", priority: 5);
        var budget = Charged(100 * Mb, (important, 60 * Mb));
        budget.UpdateEntries(e => [.. e, fallback]);
        Assert.True(budget.CreateGrant(important).TryGrow(35 * Mb));

        budget.EnsureFitsNow(fallback, 30 * Mb); // 5 MB free + 35 MB of cache
        Assert.Throws<ModelMemoryException>(() => budget.EnsureFitsNow(fallback, 45 * Mb));
    }

    private static ModelEntry Entry(string name, int priority = 3) =>
        new(new ModelDescriptor(name, "none", null, null, new GenerationOptions(), priority, TimeSpan.Zero, false, [],
            new Dictionary<string, string?>(), $"models[{name}]"), backend: null!);

    private static void BeginLoad(ModelEntry entry) =>
        Assert.False(entry.TryLeaseOrWait(0, out _, out _, out var load) || load is null);

    /// <summary>An entry that went Unloaded → Loading → Ready, last used at <paramref name="lastAccess"/>.</summary>
    private static ModelEntry Ready(string name, int priority = 3, long lastAccess = 0)
    {
        var entry = Entry(name, priority);
        BeginLoad(entry);
        entry.Publish(new NoInstance(), lastAccess, TimeSpan.Zero);
        return entry;
    }

    private static MemoryBudget Charged(long limit, params (ModelEntry Entry, long Bytes)[] charges)
    {
        var budget = new MemoryBudget(limit, charges.Select(c => c.Entry).ToArray());
        foreach (var (entry, bytes) in charges)
        {
            Assert.True(budget.TryReserve(entry, bytes).Reserved);
        }

        return budget;
    }

    /// <summary>An instance that is never called: these tests exercise the budget, not generation.</summary>
    private sealed class NoInstance : IModelInstance
    {
        public long MemoryBytes => 0;

        public IAsyncEnumerable<GenerationUpdate> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken) => throw new NotSupportedException();

        public IAsyncEnumerable<GenerationUpdate> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, CancellationToken cancellationToken) => throw new NotSupportedException();

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
