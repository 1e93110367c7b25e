using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ModelManager;

/// <summary>The manager's instruments and activity source; usable from OpenTelemetry with <c>AddMeter("ModelManager")</c> and <c>AddSource("ModelManager")</c>.</summary>
/// <remarks>Thread-safe. Observable instruments read the manager on collection, so the warm path records nothing.</remarks>
internal sealed class ModelManagerMetrics : IDisposable
{
    public static readonly ActivitySource ActivitySource = new(ModelManagerTags.SourceName);

    private readonly Meter _meter;
    private readonly bool _ownsMeter;
    private readonly Counter<long> _loads;
    private readonly Histogram<double> _loadDuration;
    private readonly Counter<long> _loadFailures;
    private readonly Counter<long> _evictions;
    private readonly Counter<long> _unloads;
    private readonly Counter<long> _fallbacks;
    private readonly Histogram<double> _memoryWait;

    public ModelManagerMetrics(IMeterFactory? meterFactory, DefaultModelManager manager)
    {
        if (meterFactory is not null)
        {
            _meter = meterFactory.Create(new MeterOptions(ModelManagerTags.SourceName));
        }
        else
        {
            _meter = new Meter(ModelManagerTags.SourceName);
            _ownsMeter = true;
        }

        _loads = _meter.CreateCounter<long>("modelmanager.loads", "{load}", "Models loaded");
        _loadDuration = _meter.CreateHistogram<double>("modelmanager.load.duration", "s", "Time to load a model, including waiting for memory");
        _loadFailures = _meter.CreateCounter<long>("modelmanager.load.failures", "{failure}", "Loads that failed");
        _evictions = _meter.CreateCounter<long>("modelmanager.evictions", "{eviction}", "Models the manager evicted, by reason");
        _unloads = _meter.CreateCounter<long>("modelmanager.unloads", "{unload}", "Models unloaded on request or at shutdown, by reason");
        _fallbacks = _meter.CreateCounter<long>("modelmanager.fallbacks", "{fallback}", "Requests served by a fallback model");
        _memoryWait = _meter.CreateHistogram<double>("modelmanager.memory.wait.duration", "s", "Time loads waited for memory to be freed");
        _meter.CreateObservableUpDownCounter("modelmanager.models.loaded", manager.CountLoaded, "{model}", "Models in memory");
        _meter.CreateObservableUpDownCounter("modelmanager.memory.used", () => manager.UsedBytes, "By", "Bytes the budget counts as used");
        _meter.CreateObservableUpDownCounter("modelmanager.memory.limit", () => manager.LimitBytes, "By", "The memory budget");
        _meter.CreateObservableUpDownCounter("modelmanager.leases.active", manager.CountLeases, "{lease}", "Leases held");
        _meter.CreateObservableCounter("modelmanager.prompt_cache.hits", () => PromptCache(manager, c => c.Hits), "{request}", "Requests that reused a cached prompt prefix, since the model loaded");
        _meter.CreateObservableCounter("modelmanager.prompt_cache.reused_tokens", () => PromptCache(manager, c => c.ReusedTokens), "{token}", "Prompt tokens taken from the cache, since the model loaded");
        _meter.CreateObservableUpDownCounter("modelmanager.prompt_cache.bytes", () => PromptCache(manager, c => c.Bytes), "By", "KV cache bytes the cached sequences hold");
    }

    /// <summary>One measurement per loaded model with a prompt cache, tagged with its name.</summary>
    private static IEnumerable<Measurement<long>> PromptCache(DefaultModelManager manager, Func<PromptCacheStats, long> value)
    {
        foreach (var (name, stats) in manager.GetModelStats())
        {
            if (stats.PromptCache is { } cache)
            {
                yield return new Measurement<long>(value(cache), new KeyValuePair<string, object?>(ModelManagerTags.Model, name));
            }
        }
    }

    public void Loaded(ModelDescriptor model, TimeSpan duration)
    {
        var tags = Tags(model);
        _loads.Add(1, tags);
        _loadDuration.Record(duration.TotalSeconds, tags);
    }

    public void LoadFailed(ModelDescriptor model, Exception error) =>
        _loadFailures.Add(1, new TagList { { ModelManagerTags.Model, model.Name }, { ModelManagerTags.ModelType, model.Type }, { ModelManagerTags.ErrorType, error.GetType().Name } });

    public void Unloaded(ModelDescriptor model, UnloadReason reason, bool evicted) =>
        (evicted ? _evictions : _unloads).Add(1, new TagList { { ModelManagerTags.Model, model.Name }, { ModelManagerTags.Reason, reason.ToString() } });

    public void FallbackUsed(string model, string fallback) =>
        _fallbacks.Add(1, new TagList { { ModelManagerTags.Model, model }, { ModelManagerTags.Fallback, fallback } });

    public void WaitedForMemory(string model, TimeSpan waited) =>
        _memoryWait.Record(waited.TotalSeconds, new KeyValuePair<string, object?>(ModelManagerTags.Model, model));

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private static TagList Tags(ModelDescriptor model) => new() { { ModelManagerTags.Model, model.Name }, { ModelManagerTags.ModelType, model.Type } };
}
