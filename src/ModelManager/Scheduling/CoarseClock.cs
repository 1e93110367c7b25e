namespace ModelManager;

/// <summary>The warm path's last-access clock: a <see cref="TimeProvider"/> timestamp refreshed every <see cref="Period"/> while leases end, read with one memory load.</summary>
/// <remarks>
/// Thread-safe. A clock read costs more than the rest of a lease cycle (about 21 ns of 35 on the 2-core guest, see
/// WarmPathBenchmarks), and last-access times only decide idle unloads (seconds) and the LRU order between idle models.
/// So <see cref="Now"/> is a field a timer refreshes: a stamp it gives lies between <see cref="Period"/> before the true time
/// and the true time, as long as the thread pool runs the timer on time. The timer runs only while it is used: a tick that
/// finds no model stamped since the previous tick stops it, and the next <see cref="Now"/> reads the exact time and restarts
/// it, so a call after a quiet spell gets an exact stamp and an idle process gets no wake-ups.
/// </remarks>
internal sealed class CoarseClock : IDisposable
{
    /// <summary>
    /// 100 ms: a tenth of the shortest idle sweep interval (1 s), so it adds at most that to an idle unload's delay; the
    /// resolution of the LRU order between models (stamps within one period tie); ten wake-ups a second while calls run.
    /// </summary>
    public static readonly TimeSpan Period = TimeSpan.FromMilliseconds(100);

    private const long Stopped = long.MinValue;

    private readonly TimeProvider _time;
    private readonly Func<long, bool> _stampedSince;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();
    private long _now = Stopped;
    private bool _disposed;

    /// <param name="time">The clock to sample.</param>
    /// <param name="stampedSince">Whether any model took a stamp at or after the given timestamp (the clock is still in use).</param>
    public CoarseClock(TimeProvider time, Func<long, bool> stampedSince)
    {
        _time = time;
        _stampedSince = stampedSince;
        _timer = time.CreateTimer(static s => ((CoarseClock)s!).Tick(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        PeriodTimestamp = (long)(Period.TotalSeconds * time.TimestampFrequency);
    }

    /// <summary><see cref="Period"/> in <see cref="TimeProvider.GetTimestamp"/> units: how much earlier than the truth a stamp may be.</summary>
    public long PeriodTimestamp { get; }

    /// <summary>A timestamp at most <see cref="Period"/> old; lock-free unless the clock was stopped.</summary>
    public long Now
    {
        get
        {
            var now = Volatile.Read(ref _now);
            return now != Stopped ? now : Start();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _timer.Dispose();
        }
    }

    private long Start()
    {
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            if (_now == Stopped && !_disposed)
            {
                _timer.Change(Period, Period);
            }

            Volatile.Write(ref _now, now);
            return now;
        }
    }

    private void Tick()
    {
        lock (_lock)
        {
            var previous = _now;
            if (previous == Stopped || _disposed)
            {
                return;
            }

            if (_stampedSince(previous))
            {
                Volatile.Write(ref _now, _time.GetTimestamp());
                return;
            }

            // Unused for a whole period: stop until the next read (a stamp read before this still was at most a period old).
            Volatile.Write(ref _now, Stopped);
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }
    }
}
