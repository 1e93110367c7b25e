using System.Collections.Concurrent;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace ModelManager.Benchmarks.Micro;

/// <summary>The warm path of every call on a loaded model, against the floor the style guide sets for it.</summary>
/// <remarks>
/// Manager: <c>GetModel</c> (a frozen-dictionary lookup and a cached handle), then what every handle call does around the
/// backend: <c>TryBeginCall</c> (the lease, <c>TryAcquireFast</c>: one Interlocked add for the lease and access counts and a
/// state read; then the call's admission against <c>max_queue</c>: one compare-exchange) and <c>EndCall</c> (an Interlocked
/// decrement for the admission; the lease's <c>Release</c>: a <c>CoarseClock</c> stamp, an Interlocked decrement). Floor: a <see cref="ConcurrentDictionary{TKey,TValue}"/> lookup plus an
/// Interlocked increment and decrement. The 8-thread variants run the same cycle on 8 dedicated threads at once, either all
/// on one model or each on its own; their time is wall time over all operations, i.e. the inverse of aggregate throughput.
/// The breakdown category shows where the manager's time goes.
/// </remarks>
[MemoryDiagnoser]
[CategoriesColumn]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
public class WarmPathBenchmarks : IDisposable
{
    public const int Threads = 8;
    public const int OpsPerThread = 1 << 16;
    private const string ModelName = "warm0";

    private readonly ConcurrentDictionary<string, FloorEntry> _floor = new(StringComparer.Ordinal);
    private readonly string[] _names = Enumerable.Range(0, Threads).Select(i => $"warm{i}").ToArray();
    private readonly TimeProvider _time = TimeProvider.System;
    private ManagerFixture? _fixture;
    private DefaultModelManager _manager = null!;
    private ModelEntry _entry = null!;
    private ThreadGang? _gang;
    private Action<int, int> _floorShared = null!;
    private Action<int, int> _managerShared = null!;
    private Action<int, int> _floorOwn = null!;
    private Action<int, int> _managerOwn = null!;

    [GlobalSetup]
    public void Setup()
    {
        var models = string.Join(", ", _names.Select(n => $$"""{ "name": "{{n}}", "type": "fake", "parameters": { "size_mb": 1 } }"""));
        _fixture = ManagerFixture.CreateAsync($$"""{ "max_memory_mb": 256, "models": [ {{models}} ] }""").GetAwaiter().GetResult();
        _manager = _fixture.Manager;
        foreach (var name in _names)
        {
            _manager.LoadModelAsync(name).GetAwaiter().GetResult();
            _floor[name] = new FloorEntry();
        }

        _entry = ((ModelHandle)_manager.GetModel(ModelName)).Primary;
        _floorShared = (_, n) => FloorLoop(ModelName, n);
        _managerShared = (_, n) => ManagerLoop(ModelName, n);
        _floorOwn = (thread, n) => FloorLoop(_names[thread], n);
        _managerOwn = (thread, n) => ManagerLoop(_names[thread], n);
        _gang = new ThreadGang(Threads);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Dispose();
        var leaked = _manager.GetModelStats().Values.Sum(s => s.ActiveLeases);
        _fixture?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        if (leaked != 0)
        {
            throw new InvalidOperationException($"{leaked} lease(s) leaked");
        }
    }

    public void Dispose()
    {
        _gang?.Dispose();
        _gang = null;
        GC.SuppressFinalize(this);
    }

    [Benchmark(Baseline = true, Description = "floor: ConcurrentDictionary + Interlocked ±1")]
    [BenchmarkCategory("1 thread")]
    public long Floor() => FloorCycle(ModelName);

    [Benchmark(Description = "manager: GetModel + call (lease, admission, release)")]
    [BenchmarkCategory("1 thread")]
    public bool Manager() => ManagerCycle(ModelName);

    [Benchmark(Description = "public AcquireAsync + Dispose (ModelLease)")]
    [BenchmarkCategory("1 thread")]
    public async Task<bool> PublicLease()
    {
        using var lease = await _manager.AcquireAsync(ModelName).ConfigureAwait(false);
        return lease.IsFallback;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Threads * OpsPerThread, Description = "floor: ConcurrentDictionary + Interlocked ±1")]
    [BenchmarkCategory("8 threads, one model")]
    public void FloorShared() => _gang!.Run(_floorShared, OpsPerThread);

    [Benchmark(OperationsPerInvoke = Threads * OpsPerThread, Description = "manager: GetModel + call (lease, admission, release)")]
    [BenchmarkCategory("8 threads, one model")]
    public void ManagerShared() => _gang!.Run(_managerShared, OpsPerThread);

    [Benchmark(Baseline = true, OperationsPerInvoke = Threads * OpsPerThread, Description = "floor: ConcurrentDictionary + Interlocked ±1")]
    [BenchmarkCategory("8 threads, a model each")]
    public void FloorOwn() => _gang!.Run(_floorOwn, OpsPerThread);

    [Benchmark(OperationsPerInvoke = Threads * OpsPerThread, Description = "manager: GetModel + call (lease, admission, release)")]
    [BenchmarkCategory("8 threads, a model each")]
    public void ManagerOwn() => _gang!.Run(_managerOwn, OpsPerThread);

    [Benchmark(Baseline = true, Description = "floor: ConcurrentDictionary + Interlocked ±1")]
    [BenchmarkCategory("breakdown")]
    public long FloorAgain() => FloorCycle(ModelName);

    [Benchmark(Description = "GetModel only (lookup + cached handle)")]
    [BenchmarkCategory("breakdown")]
    public object GetModelOnly() => _manager.GetModel(ModelName);

    [Benchmark(Description = "TryAcquireFast + Release only")]
    [BenchmarkCategory("breakdown")]
    public bool LeaseOnly()
    {
        _manager.TryAcquireFast(_entry, out var lease);
        _manager.Release(lease.Entry);
        return lease.CallToken.CanBeCanceled;
    }

    [Benchmark(Description = "TimeProvider.System.GetTimestamp()")]
    [BenchmarkCategory("breakdown")]
    public long Timestamp() => _time.GetTimestamp();

    private long FloorCycle(string name)
    {
        _floor.TryGetValue(name, out var entry);
        Interlocked.Increment(ref entry!.Count);
        return Interlocked.Decrement(ref entry.Count);
    }

    /// <summary>What every <c>GenerateAsync</c>/chat/embedding call does before and after it reaches the backend: the handle, its chain, the call's lease and admission, and their end.</summary>
    private bool ManagerCycle(string name)
    {
        var handle = (ModelHandle)_manager.GetModel(name);
        if (!handle.TryBeginCall(handle.Chain, out var lease))
        {
            lease = handle.BeginCallAsync(handle.Chain, CancellationToken.None).AsTask().GetAwaiter().GetResult();
        }

        handle.EndCall(lease);
        return lease.CallToken.CanBeCanceled;
    }

    private void FloorLoop(string name, int n)
    {
        for (var i = 0; i < n; i++)
        {
            FloorCycle(name);
        }
    }

    private void ManagerLoop(string name, int n)
    {
        for (var i = 0; i < n; i++)
        {
            ManagerCycle(name);
        }
    }

    /// <summary>Padded to a cache line, so the floor's per-model counters do not falsely share one (a ModelEntry is larger than a line too).</summary>
    private sealed class FloorEntry
    {
        public long Count;
#pragma warning disable CS0169, IDE0044, IDE0051 // padding, never read or written
        private long _p1, _p2, _p3, _p4, _p5, _p6, _p7;
#pragma warning restore CS0169, IDE0044, IDE0051
    }
}
