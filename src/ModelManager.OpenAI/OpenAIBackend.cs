using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ModelManager;

/// <summary>Type <c>openai</c>: models served by OpenAI-compatible endpoints, through the official OpenAI SDK and Microsoft.Extensions.AI.</summary>
/// <remarks>
/// Thread-safe. Loading costs no memory: it builds the clients and, unless <c>check_on_load</c> is false, checks that an
/// endpoint answers <c>GET /models</c>. The circuit breakers of endpoints live here, keyed by endpoint and remote model id,
/// so that an endpoint found dead stays skipped across evictions and reloads.
/// </remarks>
internal sealed class OpenAIBackend : IModelBackend
{
    private readonly OpenAIOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<(Uri Endpoint, string RemoteModel), EndpointHealth> _health = new();

    public OpenAIBackend(IOptions<OpenAIOptions>? options = null, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        _options = options?.Value ?? new OpenAIOptions();
        _time = timeProvider ?? TimeProvider.System;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ModelManager.OpenAI");
    }

    public IReadOnlyList<string> Types { get; } = ["openai"];

    public IReadOnlyCollection<string> SettingKeys { get; } = OpenAIModelSettings.Keys;

    public void Validate(ModelDescriptor model, ModelValidationContext context) => OpenAIModelSettings.Validate(model, context);

    /// <summary>Zero: the model's memory is the server's.</summary>
    public ValueTask<long> EstimateBytesAsync(ModelDescriptor model, CancellationToken cancellationToken) => ValueTask.FromResult(0L);

    /// <summary>The first configured endpoint (<c>endpoint</c>, else <c>path</c>, else <c>endpoints[0]</c>).</summary>
    public Uri? GetEndpoint(ModelDescriptor model)
    {
        var endpoints = model.GetList("endpoints");
        var first = model.GetSetting("endpoint") ?? model.Path ?? (endpoints.Count > 0 ? endpoints[0] : null);
        return Uri.TryCreate(first, UriKind.Absolute, out var uri) ? uri : null;
    }

    public async Task<IModelInstance> LoadAsync(ModelDescriptor model, IProgress<double>? progress, CancellationToken cancellationToken)
    {
        var settings = OpenAIModelSettings.From(model, _options);
        var endpoints = settings.Endpoints
            .Select(url => new OpenAIEndpoint(model.Name, url, settings, _options, Health(url, settings.RemoteModel), _time, _logger))
            .ToArray();
        var instance = new OpenAIModel(model, settings, endpoints, _options.DefaultMaxTokens, _logger);
        OpenAILog.ClientCreated(_logger, model.Name, settings.RemoteModel, endpoints.Length, settings.Timeout.TotalSeconds, settings.MaxRetries, settings.KeySource);
        if (!settings.CheckOnLoad)
        {
            progress?.Report(1);
            return instance;
        }

        try
        {
            progress?.Report(0.1);
            await instance.CheckReachableAsync(cancellationToken).ConfigureAwait(false);
            progress?.Report(1);
            return instance;
        }
        catch (ModelEndpointException e)
        {
            await instance.DisposeAsync().ConfigureAwait(false);
            throw new ModelLoadException(model.Name, $"Model '{model.Name}' (openai) is unreachable: {Unprefixed(e.Message, model.Name)}", e);
        }
        catch
        {
            await instance.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The circuit breaker of <paramref name="endpoint"/> for <paramref name="remoteModel"/>, created on first use.</summary>
    internal EndpointHealth Health(Uri endpoint, string remoteModel) =>
        _health.GetOrAdd((endpoint, remoteModel), static (key, self) => new EndpointHealth(key.Endpoint, key.RemoteModel, self._options, self._time, self._logger), this);

    private static string Unprefixed(string message, string model)
    {
        var prefix = $"Model '{model}': ";
        return message.StartsWith(prefix, StringComparison.Ordinal) ? message[prefix.Length..] : message;
    }
}
