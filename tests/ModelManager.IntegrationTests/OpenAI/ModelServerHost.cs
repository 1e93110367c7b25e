using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelServer;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>The ModelServer sample, started in process on a free loopback port, with the fake backend added.</summary>
internal sealed class ModelServerHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ModelServerHost(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    /// <summary>The server's root, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri Address { get; }

    /// <summary>The OpenAI base URL: the root plus <c>/v1</c>.</summary>
    public Uri V1 => new(Address, "v1");

    /// <summary>The server's services (its fake backend, say).</summary>
    public IServiceProvider Services => _app.Services;

    /// <summary>The server's own manager, to compare HTTP output with in-process output.</summary>
    public IModelManager Manager => _app.Services.GetRequiredService<IModelManager>();

    /// <summary>The server's feed behind <c>/v1/events</c>, for the tests of its buffers.</summary>
    public ModelServer.Api.ModelEventFeed EventFeed => _app.Services.GetRequiredService<ModelServer.Api.ModelEventFeed>();

    /// <summary>Starts a server over <paramref name="configJson"/>; with <paramref name="apiKey"/>, clients need that bearer key; <paramref name="settings"/> are app configuration.</summary>
    public static async Task<ModelServerHost> StartAsync(string configJson, string? apiKey = null, LogCapture? logs = null, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var path = Path.Combine(TestCache.NewScratchDirectory(), "config.json");
        await File.WriteAllTextAsync(path, configJson);
        var app = ModelServerApp.Build(["--config", path, "--urls", "http://127.0.0.1:0"], (builder, models) =>
        {
            models.AddFakeBackend();
            builder.Configuration[ModelServerApp.ApiKeySetting] = apiKey ?? ""; // never inherit a key from the test runner's environment
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            {
                builder.Configuration[key] = value;
            }

            builder.Logging.ClearProviders();
            if (logs is not null)
            {
                builder.Logging.SetMinimumLevel(LogLevel.Trace);
                builder.Logging.AddFilter(_ => true);
                builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Trace); // the app quiets request logs; a test that reads logs wants them all
                builder.Logging.AddProvider(logs);
            }
        });
        await app.StartAsync();
        return new ModelServerHost(app, ModelServerApp.GetAddress(app));
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
