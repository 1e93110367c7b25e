using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>Upstream servers that fail, lie or hang: every case ends in a typed error, within its timeout, and never hangs.</summary>
public sealed class BadUpstreamTests
{
    private const string Prompt = "Once upon a time";

    /// <summary>What a test allows beyond the configured timeouts, besides the thread-pool lag measured during it (<see cref="SchedulingLag"/>).</summary>
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(3);

    /// <summary>A hard stop for each call: failing this means the call hung.</summary>
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task ServerErrors_AreRetriedWithBackoff_ThenFailWithTheEndpointAndStatus()
    {
        await using var upstream = Serve(x => x.RespondAsync(500, """{"error":{"message":"the GPU caught fire","type":"server_error"}}"""), "\"max_retries\": 2, \"check_on_load\": false");

        var started = Stopwatch.GetTimestamp();
        var e = await Assert.ThrowsAsync<ModelEndpointException>(() => upstream.GenerateAsync());
        var elapsed = Stopwatch.GetElapsedTime(started);

        Assert.Equal(EndpointFailureKind.HttpError, e.Kind);
        Assert.Equal(500, e.StatusCode);
        Assert.Equal(new Uri(upstream.Server.V1), e.Endpoint);
        Assert.True(e.IsTransient);
        Assert.Contains(upstream.Server.V1, e.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 500", e.Message, StringComparison.Ordinal);
        Assert.Contains("the GPU caught fire", e.Message, StringComparison.Ordinal);
        Assert.Equal(3, upstream.Server.CountOf("POST", "/chat/completions")); // 1 attempt + 2 retries
        SchedulingLag.AssertWithin(elapsed, Margin, started, "two retries with backoff");
    }

    [Fact]
    public async Task OneServerError_ThenSuccess_IsRecoveredByTheRetry()
    {
        var calls = 0;
        await using var upstream = Serve(x => Interlocked.Increment(ref calls) == 1
            ? x.RespondAsync(503, "overloaded", "text/plain")
            : x.StreamAnswerAsync("Hello", " there"), "\"check_on_load\": false");

        var text = await upstream.GenerateAsync();

        Assert.Equal("Hello there", text);
        var attempts = upstream.Server.Received.Where(r => r.IsChat).ToList();
        Assert.Equal(2, attempts.Count);
        Assert.Contains(Prompt, attempts[1].Body, StringComparison.Ordinal); // the retry re-sends the whole request body
        Assert.Equal(attempts[0].Body, attempts[1].Body);
    }

    [Fact]
    public async Task ServerErrorsOnTheModelList_FailTheLoad_WithModelLoadExceptionNamingEndpointAndStatus()
    {
        await using var upstream = Serve(x => x.RespondAsync(502, "<html><body>Bad gateway</body></html>", "text/html"), "\"max_retries\": 1");

        var e = await Assert.ThrowsAsync<ModelLoadException>(() => upstream.Manager.GetModelAsync("remote").WaitAsync(Hang));

        var inner = Assert.IsType<ModelEndpointException>(e.InnerException);
        Assert.Equal(502, inner.StatusCode);
        Assert.Contains(upstream.Server.V1, e.Message, StringComparison.Ordinal);
        Assert.Contains("HTTP 502", e.Message, StringComparison.Ordinal);
        Assert.Contains("HTML page", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, upstream.Server.CountOf("GET", "/models"));
        Assert.Equal(ModelState.Unloaded, upstream.Manager.GetModelStats()["remote"].State);
    }

    [Fact]
    public async Task MalformedJsonInTheStream_IsAnInvalidResponse()
    {
        await using var upstream = Serve(async x =>
        {
            await x.StartEventStreamAsync();
            await x.SendEventAsync("""{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hel""");
            await x.EndStreamAsync();
        }, "\"check_on_load\": false");

        var e = await Assert.ThrowsAsync<ModelEndpointException>(() => upstream.GenerateAsync());

        Assert.Equal(EndpointFailureKind.InvalidResponse, e.Kind);
        Assert.False(e.IsTransient);
        Assert.Contains("not the OpenAI wire format", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, upstream.Server.CountOf("POST", "/chat/completions")); // a 200 with garbage is not retried
    }

    [Fact]
    public async Task MalformedModelList_FailsTheLoad()
    {
        await using var upstream = Serve(x => x.RespondAsync(200, """{"object":"list","data":[{"id": """));

        var e = await Assert.ThrowsAsync<ModelLoadException>(() => upstream.Manager.LoadModelAsync("remote").WaitAsync(Hang));

        Assert.Equal(EndpointFailureKind.InvalidResponse, Assert.IsType<ModelEndpointException>(e.InnerException).Kind);
    }

    [Fact]
    public async Task ResponseThatNeverStarts_TimesOutWithinTimeoutSeconds()
    {
        await using var upstream = Serve(x => x.IsChatOr(x.StallAsync), "\"timeout_seconds\": 1, \"max_retries\": 0, \"check_on_load\": false");

        var started = Stopwatch.GetTimestamp();
        var e = await Assert.ThrowsAsync<ModelEndpointException>(() => upstream.GenerateAsync());

        Assert.Equal(EndpointFailureKind.Timeout, e.Kind);
        Assert.Null(e.StatusCode);
        Assert.Contains("did not answer within 1 s", e.Message, StringComparison.Ordinal);
        AssertTook(started, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(1), "a timeout_seconds of 1 s");
    }

    [Fact]
    public async Task ResponseThatNeverStarts_WhenTheCallsBudgetFiresBeforeTheAttemptTimeout_StillNamesTimeoutSeconds()
    {
        // Polly's per-attempt timeout runs on a clock that never moves, as if its timer were late on a busy machine; the
        // call's own watchdog (real time, timeout_seconds × attempts + 1 s) is then what ends the request.
        await using var upstream = Serve(x => x.IsChatOr(x.StallAsync), "\"timeout_seconds\": 1, \"max_retries\": 0, \"check_on_load\": false", time: new FakeTimeProvider());

        var started = Stopwatch.GetTimestamp();
        var e = await Assert.ThrowsAsync<ModelEndpointException>(() => upstream.GenerateAsync());

        Assert.Equal(EndpointFailureKind.Timeout, e.Kind);
        Assert.Contains("did not answer within 1 s (timeout_seconds)", e.Message, StringComparison.Ordinal);
        AssertTook(started, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(2), "the watchdog of 2 s");
    }

    [Fact]
    public async Task ModelListThatNeverComes_FailsTheLoadWithinTheTimeout()
    {
        await using var upstream = Serve(x => x.StallAsync(), "\"timeout_seconds\": 1, \"max_retries\": 1");

        var started = Stopwatch.GetTimestamp();
        var e = await Assert.ThrowsAsync<ModelLoadException>(() => upstream.Manager.LoadModelAsync("remote").WaitAsync(Hang));

        Assert.Equal(EndpointFailureKind.Timeout, Assert.IsType<ModelEndpointException>(e.InnerException).Kind);
        Assert.Equal(2, upstream.Server.CountOf("GET", "/models")); // a timed-out attempt is retried
        AssertTook(started, TimeSpan.Zero, TimeSpan.FromSeconds(2), "two attempts of 1 s");
    }

    [Fact]
    public async Task StreamThatStallsMidway_TimesOutAfterTheFirstPiece()
    {
        await using var upstream = Serve(async x =>
        {
            await x.BeginAnswerAsync("Once");
            await x.StallAsync();
        }, "\"timeout_seconds\": 1, \"check_on_load\": false");
        var pieces = new List<string>();

        var started = Stopwatch.GetTimestamp();
        var e = await Assert.ThrowsAsync<ModelEndpointException>(() => upstream.StreamIntoAsync(pieces));

        Assert.Equal(["Once"], pieces);
        Assert.Equal(EndpointFailureKind.Timeout, e.Kind);
        Assert.Contains("went silent", e.Message, StringComparison.Ordinal);
        AssertTook(started, TimeSpan.Zero, TimeSpan.FromSeconds(1), "a stream silent for 1 s");
        Assert.Equal(1, upstream.Server.CountOf("POST", "/chat/completions")); // text was returned: no retry, no failover
    }

    [Fact]
    public async Task ConnectionDroppedMidStream_IsConnectionLost()
    {
        await using var upstream = Serve(async x =>
        {
            await x.BeginAnswerAsync("Once");
            await Task.Delay(50);
            x.Drop();
        }, "\"check_on_load\": false");
        var pieces = new List<string>();

        var e = await Assert.ThrowsAsync<ModelEndpointException>(() => upstream.StreamIntoAsync(pieces));

        Assert.Equal(["Once"], pieces);
        Assert.Equal(EndpointFailureKind.ConnectionLost, e.Kind);
        Assert.Contains("mid-response", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StreamThatEndsWithoutAFinishReason_IsConnectionLost()
    {
        await using var upstream = Serve(async x =>
        {
            await x.BeginAnswerAsync("Once");
            await x.EndStreamAsync();
        }, "\"check_on_load\": false");

        var e = await Assert.ThrowsAsync<ModelEndpointException>(() => upstream.GenerateAsync());

        Assert.Equal(EndpointFailureKind.ConnectionLost, e.Kind);
        Assert.Contains("finish_reason", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConnectionDroppedAfterTheFinishReason_StillReturnsTheWholeAnswer()
    {
        await using var upstream = Serve(async x =>
        {
            await x.BeginAnswerAsync("The end.");
            await x.SendEventAsync(RawExchange.ChatChunk("", "stop"));
            await Task.Delay(50);
            x.Drop(); // before [DONE]
        }, "\"check_on_load\": false");

        Assert.Equal("The end.", await upstream.GenerateAsync());
    }

    [Fact]
    public async Task TooManyRequests_WaitsForRetryAfter_UpToTheCap_ThenSucceeds()
    {
        var logs = new LogCapture();
        var calls = 0;
        await using var upstream = Serve(x => Interlocked.Increment(ref calls) == 1
            ? x.RespondAsync(429, """{"error":{"message":"slow down"}}""", "application/json", ("Retry-After", "1"))
            : x.StreamAnswerAsync("ok"), "\"check_on_load\": false", configure: o => o.MaxRetryDelay = TimeSpan.FromMilliseconds(600), logs: logs);

        var started = Stopwatch.GetTimestamp();
        var text = await upstream.GenerateAsync();
        var elapsed = Stopwatch.GetElapsedTime(started);

        Assert.Equal("ok", text);
        Assert.Equal(2, upstream.Server.CountOf("POST", "/chat/completions"));

        // The delay the retry chose, from its log line (4003): Retry-After's 1 s, capped at 0.6 s. The wall clock shows it was waited.
        var retry = Assert.Single(logs.Entries, l => l.EventId == 4003);
        Assert.Contains(" in 600 ms (retry 1) after HTTP 429", retry.Message, StringComparison.Ordinal);
        Assert.True(elapsed >= TimeSpan.FromMilliseconds(550), $"the retry came after {elapsed.TotalMilliseconds:F0} ms, before its 600 ms delay");
    }

    [Fact]
    public async Task Unauthorized_IsNotRetried_AndSaysToCheckTheKey()
    {
        await using var upstream = Serve(x => x.RespondAsync(401, """{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"""), "\"check_on_load\": false");

        var e = await Assert.ThrowsAsync<ModelEndpointException>(() => upstream.GenerateAsync());

        Assert.Equal(401, e.StatusCode);
        Assert.False(e.IsTransient);
        Assert.Contains("check the key", e.Message, StringComparison.Ordinal);
        Assert.Equal(1, upstream.Server.CountOf("POST", "/chat/completions"));
    }

    /// <summary>
    /// Asserts that the call begun at <paramref name="started"/> took at least <paramref name="atLeast"/>, and at most
    /// <paramref name="expected"/> plus <see cref="Margin"/> plus the thread-pool lag measured meanwhile: the library's
    /// timers wait on the same pool, so a late pool makes them late by as much.
    /// </summary>
    private static void AssertTook(long started, TimeSpan atLeast, TimeSpan expected, string what)
    {
        var elapsed = Stopwatch.GetElapsedTime(started);
        Assert.True(elapsed >= atLeast, $"{what}: ended after {elapsed.TotalSeconds:F2} s, before {atLeast.TotalSeconds:F2} s");
        SchedulingLag.AssertWithin(elapsed, expected + Margin, started, what);
    }

    /// <summary>A raw upstream answering through <paramref name="handle"/>, and a manager whose model "remote" points at it.</summary>
    private static Upstream Serve(Func<RawExchange, Task> handle, string extra = "", Action<OpenAIOptions>? configure = null, TimeProvider? time = null, LogCapture? logs = null)
    {
        var server = new RawHttpServer(handle);
        var (services, manager) = RemoteManagers.Create(Config(server, extra), logs, configure, time);
        return new Upstream(server, services, manager);
    }

    private static string Config(RawHttpServer server, string extra = "", string fallbacks = "") =>
        $$"""{ "max_memory_mb": 256, "models": [ {{RemoteManagers.Remote("remote", server.V1, "raw", extra)}}{{fallbacks}} ] }""";

    /// <summary>The server and the manager of one test; disposing stops the manager, then the server.</summary>
    private sealed class Upstream(RawHttpServer server, ServiceProvider services, IModelManager manager) : IAsyncDisposable
    {
        public RawHttpServer Server { get; } = server;

        public IModelManager Manager { get; } = manager;

        /// <summary>The remote model's answer to <see cref="Prompt"/>; a hang fails after <see cref="Hang"/>.</summary>
        public Task<string> GenerateAsync() => Manager.GetModel("remote").GenerateAsync(Prompt).WaitAsync(Hang);

        /// <summary>Streams the remote model's answer into <paramref name="pieces"/>; a hang ends in cancellation after <see cref="Hang"/>.</summary>
        public async Task StreamIntoAsync(List<string> pieces)
        {
            using var hang = new CancellationTokenSource(Hang);
            await foreach (var piece in Manager.GetModel("remote").GenerateStreamingAsync(Prompt).WithCancellation(hang.Token))
            {
                pieces.Add(piece);
            }
        }

        public async ValueTask DisposeAsync()
        {
            await services.DisposeAsync();
            await Server.DisposeAsync();
        }
    }
}
