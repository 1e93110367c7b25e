namespace AgentHost;

/// <summary>Subscribes to the manager's events: prints each one and keeps them, so the scenario can wait for and check them.</summary>
/// <remarks>Thread-safe: the manager raises events on the thread that caused them.</remarks>
public sealed class ModelEventLog : IDisposable
{
    private readonly IModelManager _manager;
    private readonly AgentConsole _console;
    private readonly Lock _lock = new();
    private readonly List<ModelEventArgs> _events = [];
    private readonly HashSet<string> _progressCompleted = new(StringComparer.Ordinal);
    private readonly List<(Func<ModelEventArgs, bool> Match, TaskCompletionSource<ModelEventArgs> Done)> _waiters = [];

    public ModelEventLog(IModelManager manager, AgentConsole console)
    {
        _manager = manager;
        _console = console;
        manager.ModelEvent += OnModelEvent;
        manager.LoadProgress += OnLoadProgress;
    }

    /// <summary>Every event so far, oldest first.</summary>
    public IReadOnlyList<ModelEventArgs> Events
    {
        get
        {
            lock (_lock)
            {
                return _events.ToArray();
            }
        }
    }

    /// <summary>Models whose load progress reached 100%.</summary>
    public bool ProgressCompleted(string model)
    {
        lock (_lock)
        {
            return _progressCompleted.Contains(model);
        }
    }

    /// <summary>True when an event so far matches <paramref name="match"/>.</summary>
    public bool Any(Func<ModelEventArgs, bool> match) => Events.Any(match);

    /// <summary>Waits for the first event (past or future) that matches; null when <paramref name="timeout"/> passes first.</summary>
    public async Task<ModelEventArgs?> WaitForAsync(Func<ModelEventArgs, bool> match, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<ModelEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_lock)
        {
            if (_events.FirstOrDefault(match) is { } seen)
            {
                return seen;
            }

            _waiters.Add((match, done));
        }

        try
        {
            return await done.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            return null;
        }
        finally
        {
            lock (_lock)
            {
                _waiters.RemoveAll(w => w.Done == done);
            }
        }
    }

    public void Dispose()
    {
        _manager.ModelEvent -= OnModelEvent;
        _manager.LoadProgress -= OnLoadProgress;
    }

    private void OnModelEvent(object? sender, ModelEventArgs e)
    {
        _console.ModelEvent(e);
        List<TaskCompletionSource<ModelEventArgs>> matched;
        lock (_lock)
        {
            _events.Add(e);
            matched = _waiters.Where(w => w.Match(e)).Select(w => w.Done).ToList();
        }

        foreach (var done in matched)
        {
            done.TrySetResult(e);
        }
    }

    private void OnLoadProgress(object? sender, ModelLoadProgress progress)
    {
        if (progress.Progress >= 1)
        {
            lock (_lock)
            {
                _progressCompleted.Add(progress.ModelName);
            }
        }

        _console.LoadProgress(progress);
    }
}
