namespace ModelManager.Tests;

public sealed class LoadStartTests
{
    [Fact]
    public async Task Load_StartedFromASynchronizationContext_NeverRunsOnIt()
    {
        var backend = new ContextRecordingBackend();
        using var m = new DefaultModelManager(Options(Config(100, Fake("a", 1))), [backend], new FakeTimeProvider());
        var context = new CountingContext();
        var previous = SynchronizationContext.Current;
        Task load;
        SynchronizationContext.SetSynchronizationContext(context);
        try
        {
            load = m.LoadModelAsync("a");
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        await load.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(ModelState.Ready, m.GetModelStats()["a"].State);
        Assert.Equal([false, false], backend.SawContext);
        Assert.Equal(0, context.Posts);
    }

    [Fact]
    public async Task Load_StartedFromAPoolThread_LoadsAndServesEveryWaiterOnce()
    {
        var backend = new ContextRecordingBackend();
        using var m = new DefaultModelManager(Options(Config(100, Fake("a", 1))), [backend], new FakeTimeProvider());

        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => m.LoadModelAsync("a")))).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal(1, m.GetModelStats()["a"].LoadCount);
        Assert.Equal([false, false], backend.SawContext);
    }

    /// <summary>The fake backend, noting whether its estimate and load ran under a synchronization context.</summary>
    private sealed class ContextRecordingBackend : IModelBackend
    {
        private readonly FakeModelBackend _inner = new();

        public List<bool> SawContext { get; } = [];

        public IReadOnlyList<string> Types => _inner.Types;

        public IReadOnlyCollection<string> SettingKeys => _inner.SettingKeys;

        public void Validate(ModelDescriptor model, ModelValidationContext context) => _inner.Validate(model, context);

        public ValueTask<long> EstimateBytesAsync(ModelDescriptor model, CancellationToken cancellationToken)
        {
            lock (SawContext)
            {
                SawContext.Add(SynchronizationContext.Current is not null);
            }

            return _inner.EstimateBytesAsync(model, cancellationToken);
        }

        public Task<IModelInstance> LoadAsync(ModelDescriptor model, IProgress<double>? progress, CancellationToken cancellationToken)
        {
            lock (SawContext)
            {
                SawContext.Add(SynchronizationContext.Current is not null);
            }

            return _inner.LoadAsync(model, progress, cancellationToken);
        }
    }

    /// <summary>A context that counts what is posted to it and runs it on the thread pool.</summary>
    private sealed class CountingContext : SynchronizationContext
    {
        private int _posts;

        public int Posts => Volatile.Read(ref _posts);

        public override void Post(SendOrPostCallback d, object? state)
        {
            Interlocked.Increment(ref _posts);
            ThreadPool.QueueUserWorkItem(_ => d(state));
        }
    }
}
