namespace ModelManager.Tests;

public sealed class CoarseClockTests
{
    [Fact]
    public void Now_WhileInUse_LagsTheTrueTimeByLessThanAPeriod()
    {
        var time = new FakeTimeProvider();
        using var clock = new CoarseClock(time, _ => true);
        var start = clock.Now;
        Assert.Equal(time.GetTimestamp(), start);

        time.Advance(TimeSpan.FromMilliseconds(60));
        Assert.Equal(start, clock.Now); // no clock read: the stamp of the last tick
        for (var i = 0; i < 20; i++)
        {
            time.Advance(TimeSpan.FromMilliseconds(30));
            var lag = time.GetTimestamp() - clock.Now;
            Assert.InRange(lag, 0, clock.PeriodTimestamp - 1);
        }
    }

    [Fact]
    public void Now_AfterAPeriodUnused_StopsTicking_AndReadsTheExactTimeAgain()
    {
        var time = new FakeTimeProvider();
        var ticks = 0;
        using var clock = new CoarseClock(time, _ =>
        {
            ticks++;
            return false;
        });
        _ = clock.Now;

        time.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(1, ticks); // the first tick found no stamp and stopped the timer
        Assert.Equal(time.GetTimestamp(), clock.Now);
        time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(2, ticks);
    }

    [Fact]
    public void Now_AfterDispose_StillReads_WithoutATimer()
    {
        var time = new FakeTimeProvider();
        var ticks = 0;
        var clock = new CoarseClock(time, _ => ++ticks > 0);
        clock.Dispose();

        Assert.Equal(time.GetTimestamp(), clock.Now);
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0, ticks);
    }
}
