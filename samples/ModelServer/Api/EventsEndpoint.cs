using System.Globalization;
using ModelManager;

namespace ModelServer.Api;

/// <summary>
/// <c>GET /v1/events</c>: the model events as server-sent events (<c>event: model</c>, the kept history first), a status snapshot
/// every <c>status_interval</c> seconds (<c>event: status</c>, the body of <c>/v1/status</c>; default 1, 0 = none) and a heartbeat comment.
/// </summary>
/// <remarks>Ends when the client disconnects or the server stops; either way the client's subscription is removed.</remarks>
internal static class EventsEndpoint
{
    /// <summary>The heartbeat interval when <see cref="ModelServerApp.EventsHeartbeatSetting"/> is not set.</summary>
    public static readonly TimeSpan DefaultHeartbeat = TimeSpan.FromSeconds(15);

    private const int MaxStatusIntervalSeconds = 3600;

    public static async Task StreamAsync(HttpContext context, ModelEventFeed feed, IModelManager manager, TimeProvider time,
        IHostApplicationLifetime lifetime, IConfiguration configuration)
    {
        var statusInterval = TimeSpan.FromSeconds(1);
        if (context.Request.Query.TryGetValue("status_interval", out var text))
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) || !(seconds is >= 0 and <= MaxStatusIntervalSeconds))
            {
                await ApiError.Result(StatusCodes.Status400BadRequest, $"status_interval must be a number of seconds from 0 (no snapshots) to {MaxStatusIntervalSeconds}.",
                    "status_interval", "invalid_value").ExecuteAsync(context);
                return;
            }

            statusInterval = TimeSpan.FromSeconds(seconds);
        }

        var heartbeat = double.TryParse(configuration[ModelServerApp.EventsHeartbeatSetting], NumberStyles.Float, CultureInfo.InvariantCulture, out var beat) && beat > 0
            ? TimeSpan.FromSeconds(beat)
            : DefaultHeartbeat;

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var cancellationToken = stop.Token;
        using var subscription = feed.Subscribe();
        ServerSentEvents.Begin(context);
        try
        {
            await ServerSentEvents.WriteFrameAsync(context, ": connected\nretry: 3000\n\n", cancellationToken);
            foreach (var item in subscription.History)
            {
                await WriteEventAsync(context, item, cancellationToken);
            }

            var nextStatus = time.GetTimestamp();
            var nextHeartbeat = time.GetTimestamp() + (long)(heartbeat.TotalSeconds * time.TimestampFrequency);
            while (true)
            {
                while (subscription.Events.TryRead(out var item))
                {
                    await WriteEventAsync(context, item, cancellationToken);
                }

                var now = time.GetTimestamp();
                if (statusInterval > TimeSpan.Zero && now >= nextStatus)
                {
                    var status = Json.Text(StatusEndpoint.Snapshot(manager, time, feed));
                    await ServerSentEvents.WriteFrameAsync(context, $"event: status\ndata: {status}\n\n", cancellationToken);
                    nextStatus = now + (long)(statusInterval.TotalSeconds * time.TimestampFrequency);
                }

                if (now >= nextHeartbeat)
                {
                    await ServerSentEvents.WriteFrameAsync(context, ": heartbeat\n\n", cancellationToken);
                    nextHeartbeat = now + (long)(heartbeat.TotalSeconds * time.TimestampFrequency);
                }

                var due = statusInterval > TimeSpan.Zero ? Math.Min(nextStatus, nextHeartbeat) : nextHeartbeat;
                var wait = time.GetElapsedTime(time.GetTimestamp(), due);
                if (wait > TimeSpan.Zero && !await WaitForEventAsync(subscription, wait, time, cancellationToken))
                {
                    return; // the feed ended: the server is stopping
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The client disconnected or the server is stopping; disposing the subscription unsubscribes.
        }
        catch (IOException) when (context.RequestAborted.IsCancellationRequested)
        {
        }
    }

    /// <summary>Waits until an event is buffered (true), <paramref name="wait"/> passes (true) or the feed completes (false).</summary>
    private static async Task<bool> WaitForEventAsync(ModelEventFeed.Subscription subscription, TimeSpan wait, TimeProvider time, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(wait, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            return await subscription.Events.WaitToReadAsync(linked.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return true;
        }
    }

    private static Task WriteEventAsync(HttpContext context, ModelEventFeed.FeedEvent item, CancellationToken cancellationToken) =>
        ServerSentEvents.WriteFrameAsync(context, $"id: {item.Id.ToString(CultureInfo.InvariantCulture)}\nevent: model\ndata: {item.Json}\n\n", cancellationToken);
}
