using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;

namespace ModelManager;

/// <summary>The circuit breaker of one endpoint for one remote model id, shared by every load of the models that use them.</summary>
/// <remarks>
/// Thread-safe. Owned by the backend, so that an endpoint found dead stays skipped across evictions and reloads. The breaker
/// sits outside the retries and counts whole calls: two calls in a row that still fail transiently after their retries open
/// it for <see cref="OpenAIOptions.BreakDuration"/>; afterwards one probe call decides whether it closes again.
/// </remarks>
internal sealed class EndpointHealth
{
    /// <summary>The share of failed calls, among at least <see cref="MinimumThroughput"/>, that opens the circuit.</summary>
    internal const double FailureRatio = 0.8;

    /// <summary>The fewest calls in the sampling window before the circuit may open.</summary>
    internal const int MinimumThroughput = 2;

    private readonly CircuitBreakerStateProvider _state = new();

    public EndpointHealth(Uri endpoint, string remoteModel, OpenAIOptions options, TimeProvider time, ILogger logger)
    {
        Endpoint = endpoint;
        BreakDuration = options.BreakDuration;
        Breaker = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions<HttpResponseMessage>
            {
                FailureRatio = FailureRatio,
                MinimumThroughput = MinimumThroughput,
                SamplingDuration = TimeSpan.FromSeconds(Math.Max(30, options.BreakDuration.TotalSeconds)),
                BreakDuration = options.BreakDuration,
                ShouldHandle = args => ValueTask.FromResult(EndpointErrors.IsTransient(args.Outcome)),
                StateProvider = _state,
                OnOpened = _ =>
                {
                    OpenAILog.CircuitOpened(logger, endpoint, remoteModel, options.BreakDuration.TotalSeconds);
                    return default;
                },
                OnClosed = _ =>
                {
                    OpenAILog.CircuitClosed(logger, endpoint, remoteModel);
                    return default;
                },
            })
            .Build();
    }

    /// <summary>The endpoint's base URL.</summary>
    public Uri Endpoint { get; }

    /// <summary>How long an open circuit stays open.</summary>
    public TimeSpan BreakDuration { get; }

    /// <summary>The breaker, placed outside each model's retry strategy so that it counts calls, not attempts.</summary>
    public ResiliencePipeline<HttpResponseMessage> Breaker { get; }

    /// <summary>The breaker's state, for diagnostics.</summary>
    public CircuitState State => _state.CircuitState;

    /// <summary>Why the last failed call failed (already scrubbed of secrets), reported when the endpoint is skipped.</summary>
    public string? LastFailure
    {
        get => Volatile.Read(ref _lastFailure);
        set => Volatile.Write(ref _lastFailure, value);
    }

    private string? _lastFailure;
}
