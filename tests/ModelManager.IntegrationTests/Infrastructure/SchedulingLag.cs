using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace ModelManager.IntegrationTests;

/// <summary>
/// How late the thread pool ran work during a test, measured apart from the code under test: every 50 ms a thread queues
/// one work item and records how long it waited to run. A timer, a retry delay or a timeout inside the library waits the
/// same way, so a wall-clock bound in a test allows for the lag measured over its own window.
/// </summary>
/// <remarks>
/// On the 2-core CI machine, during the parallel phase, steps that take 0.6 s alone have taken 8.2 s; locally this probe
/// sees the pool up to 1.2 s late while a test saturates both cores. A bound that still fails with the lag allowed for is
/// the library's fault; the message says how much lag there was.
/// </remarks>
internal static class SchedulingLag
{
    private static readonly TimeSpan Period = TimeSpan.FromMilliseconds(50);
    private static readonly Lock Gate = new();
    private static readonly Queue<(long At, long LagTicks)> Samples = new();
    private static long _pendingSince;

    [ModuleInitializer]
    internal static void Start() =>
        new Thread(Run) { IsBackground = true, Name = "scheduling lag probe", Priority = ThreadPriority.AboveNormal }.Start();

    /// <summary>The worst lag seen from <paramref name="since"/> (a <see cref="Stopwatch.GetTimestamp"/>) until now, a probe still waiting included.</summary>
    public static TimeSpan WorstSince(long since)
    {
        var now = Stopwatch.GetTimestamp();
        long worst = 0;
        lock (Gate)
        {
            foreach (var (at, lag) in Samples)
            {
                // A sample counts when its wait overlapped the window.
                if (at >= since)
                {
                    worst = Math.Max(worst, Math.Min(lag, at - since));
                }
            }
        }

        var pending = Volatile.Read(ref _pendingSince);
        if (pending != 0 && pending < now)
        {
            worst = Math.Max(worst, now - Math.Max(pending, since));
        }

        return Stopwatch.GetElapsedTime(0, worst);
    }

    /// <summary>Asserts that <paramref name="elapsed"/> (measured from <paramref name="since"/>) is below <paramref name="bound"/> plus the lag seen meanwhile.</summary>
    public static void AssertWithin(TimeSpan elapsed, TimeSpan bound, long since, string what)
    {
        var lag = WorstSince(since);
        Assert.True(elapsed < bound + lag, $"{what} took {elapsed.TotalSeconds:F2} s, over its bound of {bound.TotalSeconds:F2} s plus {lag.TotalSeconds:F2} s of thread-pool lag measured meanwhile");
    }

    private static void Run()
    {
        using var ran = new ManualResetEventSlim();
        var keep = Stopwatch.Frequency * 600; // ten minutes of samples
        while (true)
        {
            Thread.Sleep(Period);
            ran.Reset();
            var queued = Stopwatch.GetTimestamp();
            Volatile.Write(ref _pendingSince, queued);
            ThreadPool.UnsafeQueueUserWorkItem(static e => e.Set(), ran, preferLocal: false);
            ran.Wait();
            var done = Stopwatch.GetTimestamp();
            Volatile.Write(ref _pendingSince, 0);
            lock (Gate)
            {
                Samples.Enqueue((done, done - queued));
                while (Samples.Peek().At < done - keep)
                {
                    Samples.Dequeue();
                }
            }
        }
    }
}
