using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using ModelManager;
using ModelServer.Api;
using ModelServer.Dashboard;
using OpenTelemetry.Metrics;

namespace ModelServer;

/// <summary>Builds the ModelServer web app: the managed models behind the OpenAI wire format.</summary>
public static class ModelServerApp
{
    /// <summary>Where the server listens when neither <c>--urls</c> nor <c>ASPNETCORE_URLS</c> says otherwise: loopback only.</summary>
    public const string DefaultUrl = "http://127.0.0.1:5000";

    /// <summary>The configuration key (and environment variable) holding the bearer key clients must send; unset means no key is needed.</summary>
    public const string ApiKeySetting = "MODELSERVER_API_KEY";

    /// <summary>The configuration key (and environment variable) for the seconds between heartbeat comments on <c>/v1/events</c> (default 15).</summary>
    public const string EventsHeartbeatSetting = "MODELSERVER_EVENTS_HEARTBEAT_SECONDS";

    /// <summary>Where Prometheus scrapes the manager's metrics; behind the API key like <c>/v1</c>.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>The meter exported at <see cref="MetricsPath"/>: the one the manager's instruments belong to.</summary>
    private const string MetricsMeter = "ModelManager";

    /// <summary>The command line help.</summary>
    public const string Usage = """
        ModelServer: the managed models behind the OpenAI wire format.

          dotnet run --project samples/ModelServer -- --config PATH [--urls http://127.0.0.1:PORT]

          --config PATH   the ModelManager config.json (else the app configuration's ModelManager section)
          --urls URL      where to listen (default http://127.0.0.1:5000, loopback only)
          MODELSERVER_API_KEY (environment)   when set, every /v1 and /metrics request needs "Authorization: Bearer <key>"
                                              (the dashboard at / asks for it and keeps it for the browser tab)
          MODELSERVER_EVENTS_HEARTBEAT_SECONDS (environment)   seconds between heartbeat comments on /v1/events (default 15)

        Endpoints: GET / (the live dashboard), GET /v1/models, POST /v1/chat/completions, POST /v1/completions, POST /v1/embeddings,
                   GET /v1/status, GET /v1/events (model events and status snapshots as server-sent events), GET /health, GET /metrics
        """;

    /// <summary>Creates the app from command-line <paramref name="args"/>; <paramref name="configure"/> may add services or backends (tests add the fake backend).</summary>
    public static WebApplication Build(string[] args, Action<WebApplicationBuilder, ModelManagerBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        if (string.IsNullOrWhiteSpace(builder.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }

        // Request lines at Information drown the manager's own events; raise the level in appsettings or with Logging__LogLevel__Microsoft.AspNetCore.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        var configPath = builder.Configuration["config"];
        ModelManagerBuilder models;
        if (!string.IsNullOrWhiteSpace(configPath))
        {
            models = builder.Services.AddModelManager(Path.GetFullPath(configPath));
        }
        else if (builder.Configuration.GetSection("ModelManager").Exists())
        {
            models = builder.Services.AddModelManager();
        }
        else
        {
            throw new ArgumentException($"No model configuration: pass --config PATH (or add a ModelManager section to the app configuration).{Environment.NewLine}{Environment.NewLine}{Usage}");
        }

        models.AddLlamaSharp().AddOnnxGenAI().AddOpenAI().AddHealthCheck();
        configure?.Invoke(builder, models);

        // GET /metrics: the manager's meter (memory used and limit, models loaded, loads, evictions by reason, fallbacks,
        // leases, load and memory-wait durations, prompt cache) in Prometheus' text format.
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics.AddMeter(MetricsMeter).AddPrometheusExporter());

        // The feed behind GET /v1/events: a hosted service so that the host builds it before the manager preloads, and ends its streams on stop.
        builder.Services.AddSingleton<ModelEventFeed>();
        builder.Services.AddHostedService(static sp => sp.GetRequiredService<ModelEventFeed>());

        var app = builder.Build();
        app.UseMiddleware<ApiKeyMiddleware>();
        app.MapGet("/v1/models", ModelsEndpoint.List);
        app.MapGet("/v1/models/{**id}", ModelsEndpoint.Get);
        app.MapPost("/v1/chat/completions", new ChatCompletionsEndpoint().HandleAsync);
        app.MapPost("/v1/completions", new CompletionsEndpoint().HandleAsync);
        app.MapPost("/v1/embeddings", EmbeddingsEndpoint.HandleAsync);
        app.MapGet("/v1/status", StatusEndpoint.Get);
        app.MapGet("/v1/events", EventsEndpoint.StreamAsync);
        app.MapGet("/", DashboardEndpoint.Page);
        app.MapGet(DashboardEndpoint.AssetsPath + "/{file}", DashboardEndpoint.Asset);
        app.MapHealthChecks("/health", new HealthCheckOptions { ResponseWriter = HealthEndpoint.WriteAsync });
        app.MapPrometheusScrapingEndpoint(MetricsPath);
        app.MapFallback("/v1/{**path}", (HttpContext context) =>
        {
            // A known URL asked with the wrong method is 405 with the methods it takes, as HTTP says; anything else is unknown.
            var path = context.Request.Path.Value ?? "";
            var allowed = path is "/v1/chat/completions" or "/v1/completions" or "/v1/embeddings" ? "POST"
                : path is "/v1/models" or "/v1/status" or "/v1/events" || path.StartsWith("/v1/models/", StringComparison.Ordinal) ? "GET"
                : null;
            if (allowed is not null)
            {
                context.Response.Headers.Allow = allowed;
                return ApiError.Result(StatusCodes.Status405MethodNotAllowed, $"{context.Request.Method} is not allowed on {path}; use {allowed}.", code: "method_not_allowed");
            }

            return ApiError.Result(StatusCodes.Status404NotFound, $"Unknown request URL: {context.Request.Method} {context.Request.Path}.", code: "unknown_url");
        });
        return app;
    }

    /// <summary>The address the started app listens on (with port 0 in <c>--urls</c>, the port the OS chose).</summary>
    public static Uri GetAddress(WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            ?? throw new InvalidOperationException("The server has no address feature; start the app first.");
        return new Uri(addresses.First());
    }
}
