using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Threading.Channels;
using ModelManager;

namespace ModelServer.Api;

/// <summary>The manager's <see cref="IModelManager.ModelEvent"/>s as JSON, kept for late subscribers and fanned out to every <c>/v1/events</c> client.</summary>
/// <remarks>
/// Thread-safe singleton, subscribed from construction until disposed; registered as a hosted service so that the host builds it
/// before the manager preloads, and so that stopping the host ends every stream (an open stream would hold shutdown up). Each client gets a bounded
/// buffer that drops its oldest event when the client reads too slowly, so a slow client never grows memory without bound.
/// The handler never throws: the manager would log it, but an event lost to a bug must not cost the manager anything.
/// </remarks>
internal sealed partial class ModelEventFeed : IHostedService, IDisposable
{
    /// <summary>Events kept for a client that connects later (the dashboard shows what happened before it opened).</summary>
    public const int HistorySize = 100;

    /// <summary>Events buffered per client before its oldest is dropped.</summary>
    public const int ClientBufferSize = 256;

    private const int MaxErrorLength = 300;

    private const string Endpoint = "[endpoint]";

    private const double Mb = 1024 * 1024;

    private readonly IModelManager _manager;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string? _apiKey;
    private readonly Lock _lock = new();
    private readonly Queue<FeedEvent> _history = new();
    private readonly List<Subscription> _clients = [];
    private long _lastId;
    private long _dropped;

    public ModelEventFeed(IModelManager manager, TimeProvider time, IConfiguration configuration, ILogger<ModelEventFeed> logger)
    {
        _manager = manager;
        _time = time;
        _logger = logger;
        _apiKey = configuration[ModelServerApp.ApiKeySetting] is { Length: > 0 } key ? key : null;
        manager.ModelEvent += OnModelEvent;
    }

    /// <summary>Clients connected now.</summary>
    public int Clients
    {
        get
        {
            lock (_lock)
            {
                return _clients.Count;
            }
        }
    }

    /// <summary>Events dropped from slow clients' buffers since start.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Registers a client: the kept history, then every new event, in order and without a gap. Dispose to unsubscribe.</summary>
    public Subscription Subscribe()
    {
        lock (_lock)
        {
            var subscription = new Subscription(this, [.. _history]);
            _clients.Add(subscription);
            return subscription;
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken)
    {
        CompleteClients();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _manager.ModelEvent -= OnModelEvent;
        CompleteClients();
    }

    private void CompleteClients()
    {
        lock (_lock)
        {
            foreach (var client in _clients)
            {
                client.Complete();
            }

            _clients.Clear();
        }
    }

    private void OnModelEvent(object? sender, ModelEventArgs e)
    {
        try
        {
            lock (_lock)
            {
                var item = new FeedEvent(++_lastId, Json.Text(Describe(e)));
                _history.Enqueue(item);
                if (_history.Count > HistorySize)
                {
                    _history.Dequeue();
                }

                foreach (var client in _clients)
                {
                    client.Offer(item);
                }
            }
        }
        catch (Exception error)
        {
            ServerLog.EventNotStreamed(_logger, e.Kind.ToString(), e.ModelName, error);
        }
    }

    /// <summary>
    /// The event as the page shows it, with the budget right after it (so the page can draw memory over time from the kept history);
    /// the error text keeps its type and message, without endpoint URLs or the server's key.
    /// </summary>
    private JsonObject Describe(ModelEventArgs e)
    {
        var usage = _manager.GetMemoryUsage();
        return new JsonObject
        {
            ["time"] = _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
            ["kind"] = e.Kind.ToString(),
            ["model"] = e.ModelName,
            ["reason"] = e.Reason == UnloadReason.None ? null : e.Reason.ToString(),
            ["mb"] = Math.Round(e.Bytes / Mb, 1),
            ["served_by"] = e.Kind == ModelEventKind.FallbackUsed ? e.Detail : null,
            ["error"] = e.Exception is { } error ? Scrub(Message(error)) : null,
            ["used_mb"] = Math.Round(usage.TotalMb, 1),
            ["limit_mb"] = Math.Round(usage.LimitMb, 1),
        };
    }

    /// <summary>The failure's type and message; a bad file is named by its file name, as the folders are the server's business.</summary>
    private static string Message(Exception error)
    {
        var message = error.Message;
        if (error is ModelFormatException { FilePath.Length: > 0 } format)
        {
            message = message.Replace(format.FilePath, Path.GetFileName(format.FilePath), StringComparison.Ordinal);
        }

        return $"{error.GetType().Name}: {message}";
    }

    /// <summary>
    /// One line, with URLs and the configured endpoints' hosts replaced by <c>[endpoint]</c> (a remote model's URL may carry a key or
    /// name an internal host; a socket error names it as <c>host:port</c>), and the server's key by <c>[redacted]</c>.
    /// </summary>
    internal string Scrub(string text)
    {
        text = Url().Replace(text.ReplaceLineEndings(" "), Endpoint);
        foreach (var name in EndpointNames())
        {
            text = text.Replace(name, Endpoint, StringComparison.OrdinalIgnoreCase);
        }

        if (_apiKey is not null)
        {
            text = text.Replace(_apiKey, ModelDescriptor.Redacted, StringComparison.Ordinal);
        }

        return text.Length > MaxErrorLength ? text[..(MaxErrorLength - 3)] + "..." : text;
    }

    /// <summary>Every configured remote endpoint as <c>host:port</c> and as host, longest first; read per event, as a reload may change them.</summary>
    private IEnumerable<string> EndpointNames()
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var model in _manager.GetModels())
        {
            var values = model.Settings.Where(kv => kv.Key == "endpoint" || kv.Key.StartsWith("endpoints:", StringComparison.Ordinal)).Select(kv => kv.Value).Append(model.Path);
            foreach (var value in values)
            {
                if (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && uri.Host.Length > 0)
                {
                    names.Add(uri.Authority);
                    names.Add(uri.Host);
                }
            }
        }

        return names.OrderByDescending(n => n.Length);
    }

    [GeneratedRegex(@"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'""<>()\[\]]+")]
    private static partial Regex Url();

    /// <summary>One event with its sequence number (the SSE <c>id</c>) and its JSON text, written once and shared by every client.</summary>
    internal sealed record FeedEvent(long Id, string Json);

    /// <summary>One client's bounded buffer; disposing it unsubscribes.</summary>
    internal sealed class Subscription : IDisposable
    {
        private readonly ModelEventFeed _feed;
        private readonly Channel<FeedEvent> _buffer;

        public Subscription(ModelEventFeed feed, IReadOnlyList<FeedEvent> history)
        {
            _feed = feed;
            History = history;
            _buffer = Channel.CreateBounded<FeedEvent>(
                new BoundedChannelOptions(ClientBufferSize) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = false },
                _ => Interlocked.Increment(ref feed._dropped));
        }

        /// <summary>The events kept before the client subscribed, oldest first.</summary>
        public IReadOnlyList<FeedEvent> History { get; }

        /// <summary>New events; completes when the host stops or the feed is disposed.</summary>
        public ChannelReader<FeedEvent> Events => _buffer.Reader;

        internal void Offer(FeedEvent item) => _buffer.Writer.TryWrite(item);

        internal void Complete() => _buffer.Writer.TryComplete();

        public void Dispose()
        {
            lock (_feed._lock)
            {
                _feed._clients.Remove(this);
            }

            Complete();
        }
    }
}
