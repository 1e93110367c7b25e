using System.ClientModel;
using System.ClientModel.Primitives;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Http.Resilience;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Embeddings;
using OpenAI.Models;
using Polly;
using Polly.Retry;

namespace ModelManager;

/// <summary>One base URL of one loaded openai model: an HttpClient with a resilience pipeline, and the SDK clients on top of it.</summary>
/// <remarks>
/// Thread-safe (the SDK clients and HttpClient are). Owned by <see cref="OpenAIModel"/>, which disposes it on unload; the
/// circuit breaker (<see cref="Health"/>) belongs to the backend and outlives it. Request path, outermost first:
/// SDK (its own retries off) → HttpClient → the endpoint's circuit breaker → retry (backoff + jitter, <c>Retry-After</c>
/// honoured up to a cap) → per-attempt timeout → socket.
/// </remarks>
internal sealed class OpenAIEndpoint : IDisposable
{
    private readonly HttpClient _http;

    public OpenAIEndpoint(string modelName, Uri url, OpenAIModelSettings settings, OpenAIOptions options, EndpointHealth health, TimeProvider time, ILogger logger)
    {
        Url = url;
        Health = health;
        RemoteModel = settings.RemoteModel;
        AttemptTimeout = settings.Timeout;

        // The SDK's network timeout wraps the whole send, retries included, so it must outlast them; per-attempt limits are Polly's.
        var slack = TimeSpan.FromSeconds(1) + (options.MaxRetryDelay * settings.MaxRetries);
        CallBudget = (settings.Timeout * (settings.MaxRetries + 1)) + slack;
        var checkTimeout = options.ReachabilityTimeout < settings.Timeout ? options.ReachabilityTimeout : settings.Timeout;
        CheckBudget = (checkTimeout * (settings.MaxRetries + 1)) + slack;

        var callPipeline = BuildPipeline(modelName, url, settings, options, health, time, logger, settings.Timeout);
        var checkPipeline = BuildPipeline(modelName, url, settings, options, health, time, logger, checkTimeout);
        var sockets = new SocketsHttpHandler
        {
            ConnectTimeout = settings.Timeout,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(60),
            AutomaticDecompression = System.Net.DecompressionMethods.All,

            // A cancelled stream closes its connection at once instead of draining it, so the server stops generating at once.
            MaxResponseDrainSize = 0,
        };
        var resilience = new ResilienceHandler(request => IsModelsCheck(request) ? checkPipeline : callPipeline) { InnerHandler = sockets };
        _http = new HttpClient(resilience, disposeHandler: true) { Timeout = Timeout.InfiniteTimeSpan };

        var transport = new HttpClientPipelineTransport(_http);
        var keyless = settings.ApiKey is null;
        var chatOptions = ClientOptions(url, transport, CallBudget, settings.Headers, keyless);
        var checkOptions = ClientOptions(url, transport, CheckBudget, settings.Headers, keyless);
        var key = settings.ApiKey?.Reveal() ?? NoAuthorizationPolicy.Placeholder;
        Chat = new ChatClient(settings.RemoteModel, new ApiKeyCredential(key), chatOptions).AsIChatClient();
        Models = new OpenAIModelClient(new ApiKeyCredential(key), checkOptions);
        Embeddings = new EmbeddingClient(settings.RemoteModel, new ApiKeyCredential(key), chatOptions).AsIEmbeddingGenerator();
    }

    /// <summary>The base URL, including <c>/v1</c>.</summary>
    public Uri Url { get; }

    /// <summary>The remote model id.</summary>
    public string RemoteModel { get; }

    /// <summary>The endpoint's circuit breaker.</summary>
    public EndpointHealth Health { get; }

    /// <summary>One attempt's limit (<c>timeout_seconds</c>).</summary>
    public TimeSpan AttemptTimeout { get; }

    /// <summary>The most one call may take on this endpoint: every attempt plus the delays between them.</summary>
    public TimeSpan CallBudget { get; }

    /// <summary>The most the reachability check may take on this endpoint.</summary>
    public TimeSpan CheckBudget { get; }

    /// <summary>The chat client (M.E.AI over the official SDK).</summary>
    public IChatClient Chat { get; }

    /// <summary>The embedding generator (<c>/v1/embeddings</c>; M.E.AI over the official SDK).</summary>
    public IEmbeddingGenerator<string, Embedding<float>> Embeddings { get; }

    /// <summary>The models client, for the reachability check.</summary>
    public OpenAIModelClient Models { get; }

    public void Dispose()
    {
        Chat.Dispose();
        Embeddings.Dispose();
        _http.Dispose();
    }

    public override string ToString() => Url.ToString();

    private static bool IsModelsCheck(HttpRequestMessage request) =>
        request.Method == HttpMethod.Get && request.RequestUri is { } u && u.AbsolutePath.EndsWith("/models", StringComparison.Ordinal);

    private static OpenAIClientOptions ClientOptions(Uri url, PipelineTransport transport, TimeSpan networkTimeout, IReadOnlyDictionary<string, string> headers, bool keyless)
    {
        var options = new OpenAIClientOptions
        {
            Endpoint = url,
            Transport = transport,
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0), // Polly retries below; two layers would multiply attempts
            NetworkTimeout = networkTimeout,
        };
        if (headers.Count > 0)
        {
            options.AddPolicy(new HeadersPolicy(headers), PipelinePosition.PerCall);
        }

        if (keyless)
        {
            options.AddPolicy(NoAuthorizationPolicy.Instance, PipelinePosition.BeforeTransport);
        }

        return options;
    }

    private static ResiliencePipeline<HttpResponseMessage> BuildPipeline(string modelName, Uri url, OpenAIModelSettings settings, OpenAIOptions options,
        EndpointHealth health, TimeProvider time, ILogger logger, TimeSpan attemptTimeout)
    {
        // The breaker sees whole calls (after their retries), so a call reports the endpoint's real status, and two failed calls in a row open it.
        var builder = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = time }.AddPipeline(health.Breaker);
        if (settings.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                MaxRetryAttempts = settings.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.MaxRetryDelay,
                ShouldHandle = args => ValueTask.FromResult(EndpointErrors.IsTransient(args.Outcome)),
                DelayGenerator = args => ValueTask.FromResult(RetryAfter(args.Outcome, options.MaxRetryDelay, time)),
                OnRetry = args =>
                {
                    if (logger.IsEnabled(LogLevel.Debug))
                    {
                        var outcome = args.Outcome.Exception is { } e
                            ? $"{e.GetType().Name}: {EndpointErrors.Scrub(e.Message, settings.Secrets)}"
                            : $"HTTP {(int)args.Outcome.Result!.StatusCode}";
                        OpenAILog.Retrying(logger, modelName, url, args.RetryDelay.TotalMilliseconds, args.AttemptNumber + 1, outcome);
                    }

                    return default;
                },
            });
        }

        return builder.AddTimeout(attemptTimeout).Build();
    }

    /// <summary>The delay a 429 or 503 asks for with <c>Retry-After</c>, capped; null lets the exponential backoff decide.</summary>
    private static TimeSpan? RetryAfter(Outcome<HttpResponseMessage> outcome, TimeSpan cap, TimeProvider time)
    {
        if (outcome.Result?.Headers.RetryAfter is not { } retryAfter)
        {
            return null;
        }

        var delay = retryAfter.Delta ?? (retryAfter.Date is { } date ? date - time.GetUtcNow() : null);
        return delay is { } d ? (d < TimeSpan.Zero ? TimeSpan.Zero : d > cap ? cap : d) : null;
    }
}
