namespace ModelManager.Benchmarks.Micro;

/// <summary>Dedicated threads that run a loop body together on request, so a benchmark measures the loop, not thread start-up.</summary>
/// <remarks>Not thread-safe: one caller drives <see cref="Run"/>. Dispose joins the threads.</remarks>
internal sealed class ThreadGang : IDisposable
{
    private readonly Thread[] _threads;
    private readonly Barrier _barrier;
    private Action<int, int>? _body;
    private int _iterations;
    private volatile bool _stopping;

    public ThreadGang(int threads)
    {
        _barrier = new Barrier(threads + 1);
        _threads = new Thread[threads];
        for (var i = 0; i < threads; i++)
        {
            var index = i;
            _threads[i] = new Thread(() => Work(index)) { IsBackground = true, Name = $"gang-{i}" };
            _threads[i].Start();
        }
    }

    /// <summary>Runs <paramref name="body"/>(thread index, <paramref name="iterations"/>) on every thread at once and waits for all of them.</summary>
    public void Run(Action<int, int> body, int iterations)
    {
        _body = body;
        _iterations = iterations;
        _barrier.SignalAndWait(); // start
        _barrier.SignalAndWait(); // all done
    }

    public void Dispose()
    {
        _stopping = true;
        _barrier.SignalAndWait();
        foreach (var t in _threads)
        {
            t.Join();
        }

        _barrier.Dispose();
    }

    private void Work(int index)
    {
        while (true)
        {
            _barrier.SignalAndWait();
            if (_stopping)
            {
                return;
            }

            _body!(index, _iterations);
            _barrier.SignalAndWait();
        }
    }
}
