namespace ModelManager.Tests;

public sealed class ModelLeaseTests
{
    [Fact]
    public async Task GetService_ReachesThePinnedInstance_UntilTheLeaseIsReleased()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10)));
        var lease = await m.AcquireAsync("a");

        var instance = lease.GetService(typeof(IModelInstance));

        Assert.IsType<FakeModelInstance>(instance);
        Assert.Same(instance, lease.GetService(typeof(FakeModelInstance)));
        Assert.Null(lease.GetService(typeof(string)));
        Assert.Null(lease.GetService(typeof(IModelInstance), serviceKey: "other"));
        Assert.Equal(1, m.GetModelStats()["a"].ActiveLeases);

        lease.Dispose();
        lease.Dispose();

        Assert.True(lease.IsReleased);
        Assert.Equal(0, m.GetModelStats()["a"].ActiveLeases);
        Assert.Throws<ObjectDisposedException>(() => lease.GetService(typeof(IModelInstance)));
    }

    [Fact]
    public async Task Lease_OnAModelThatFellBack_NamesTheModelThatServes()
    {
        var (m, _) = FromJson(Config(100, Fake("broken", 10, parameters: "\"fail_load\": true", extra: "\"fallbacks\": [\"spare\"]"), Fake("spare", 10)));

        await using var lease = await m.AcquireAsync("broken");

        Assert.Equal("broken", lease.RequestedName);
        Assert.Equal("spare", lease.ModelName);
        Assert.True(lease.IsFallback);
        Assert.Equal(1, m.GetModelStats()["spare"].ActiveLeases);
    }
}
