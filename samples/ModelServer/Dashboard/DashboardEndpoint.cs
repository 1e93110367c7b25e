namespace ModelServer.Dashboard;

/// <summary><c>GET /</c> and <c>GET /dashboard/{file}</c>: the live dashboard's page, script and style, embedded in this assembly.</summary>
/// <remarks>
/// Public, as the page holds no data: it asks for the API key and sends it on its own calls to <c>/v1</c>. Embedded rather than
/// on disk so that any host of <see cref="ModelServerApp.Build"/> (the <c>modelmanager serve</c> tool) serves the same page, offline.
/// </remarks>
internal static class DashboardEndpoint
{
    /// <summary>Where the page's files are served from.</summary>
    public const string AssetsPath = "/dashboard";

    private const string ResourcePrefix = "dashboard/";

    // Scripts and styles only from this server, no inline code, no frames, nothing sent anywhere but here.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

    private static readonly Dictionary<string, (byte[] Content, string ContentType)> Assets = Load();

    /// <summary>The names of the embedded files, for tests and the endpoint list.</summary>
    public static IReadOnlyCollection<string> Files => Assets.Keys;

    public static IResult Page(HttpContext context) => Serve(context, "index.html");

    public static IResult Asset(string file, HttpContext context) => Serve(context, file);

    private static IResult Serve(HttpContext context, string file)
    {
        if (!Assets.TryGetValue(file, out var asset))
        {
            return Results.NotFound();
        }

        var headers = context.Response.Headers;
        headers.CacheControl = "no-cache";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "no-referrer";
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        return Results.Bytes(asset.Content, asset.ContentType);
    }

    private static Dictionary<string, (byte[], string)> Load()
    {
        var assembly = typeof(DashboardEndpoint).Assembly;
        var assets = new Dictionary<string, (byte[], string)>(StringComparer.Ordinal);
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var file = name[ResourcePrefix.Length..];
            assets[file] = (copy.ToArray(), ContentType(file));
        }

        return assets;
    }

    private static string ContentType(string file) => Path.GetExtension(file) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };
}
