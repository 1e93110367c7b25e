using System.Security.Cryptography;
using System.Text;

namespace ModelServer.Api;

/// <summary>Requires <c>Authorization: Bearer &lt;MODELSERVER_API_KEY&gt;</c> on every <c>/v1</c> and <c>/metrics</c> request when that key is set; <c>/health</c> stays open for probes.</summary>
/// <remarks>The key and whatever a client sends are compared in constant time and never logged.</remarks>
internal sealed class ApiKeyMiddleware(RequestDelegate next, IConfiguration configuration)
{
    private readonly byte[]? _key = configuration[ModelServerApp.ApiKeySetting] is { Length: > 0 } key ? Encoding.UTF8.GetBytes(key) : null;

    public Task InvokeAsync(HttpContext context)
    {
        if (_key is null || !(context.Request.Path.StartsWithSegments("/v1", StringComparison.OrdinalIgnoreCase)
                              || context.Request.Path.StartsWithSegments(ModelServerApp.MetricsPath, StringComparison.OrdinalIgnoreCase)))
        {
            return next(context);
        }

        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return ApiError.Result(StatusCodes.Status401Unauthorized,
                "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                code: "invalid_api_key").ExecuteAsync(context);
        }

        var given = Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim());
        return CryptographicOperations.FixedTimeEquals(given, _key)
            ? next(context)
            : ApiError.Result(StatusCodes.Status401Unauthorized, "Incorrect API key provided.", code: "invalid_api_key").ExecuteAsync(context);
    }
}
