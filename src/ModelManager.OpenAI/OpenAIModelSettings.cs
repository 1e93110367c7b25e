using System.Globalization;

namespace ModelManager;

/// <summary>One openai model's backend keys, parsed and checked; never prints its key.</summary>
internal sealed class OpenAIModelSettings
{
    /// <summary>The highest <c>max_retries</c> accepted.</summary>
    public const int MaxRetriesLimit = 10;

    /// <summary>The longest <c>timeout_seconds</c> accepted, and the longest of every duration in <see cref="OpenAIOptions"/>: one day.</summary>
    public const double MaxTimeoutSeconds = 86_400;

    /// <summary>The model-level keys this backend reads besides the common ones (<c>path</c> is an alias of <c>endpoint</c>).</summary>
    public static readonly string[] Keys = ["endpoint", "endpoints", "model", "api_key_env", "api_key", "timeout_seconds", "max_retries", "headers", "check_on_load"];

    private OpenAIModelSettings(IReadOnlyList<Uri> endpoints, string remoteModel, Secret? apiKey, string keySource, TimeSpan timeout, int maxRetries,
        IReadOnlyDictionary<string, string> headers, bool checkOnLoad)
    {
        Endpoints = endpoints;
        RemoteModel = remoteModel;
        ApiKey = apiKey;
        KeySource = keySource;
        Timeout = timeout;
        MaxRetries = maxRetries;
        Headers = headers;
        CheckOnLoad = checkOnLoad;

        // Header values that look like credentials are scrubbed from error text as carefully as the key.
        var secrets = new List<Secret>();
        if (apiKey is not null)
        {
            secrets.Add(apiKey);
        }

        foreach (var (name, value) in headers)
        {
            if (value.Length >= 4 && SensitiveHeaderWords.Any(w => name.Contains(w, StringComparison.OrdinalIgnoreCase)))
            {
                secrets.Add(new Secret(value));
            }
        }

        Secrets = secrets;
    }

    private static readonly string[] SensitiveHeaderWords = ["auth", "key", "token", "secret", "cookie", "password"];

    /// <summary>Base URLs (including <c>/v1</c>), tried in this order.</summary>
    public IReadOnlyList<Uri> Endpoints { get; }

    /// <summary>The model id sent to the server.</summary>
    public string RemoteModel { get; }

    /// <summary>The key, or null to send none.</summary>
    public Secret? ApiKey { get; }

    /// <summary>Where the key comes from, for logs: an environment variable's name, the configuration, or none.</summary>
    public string KeySource { get; }

    /// <summary>The key and any credential-like header values: text holding one of them is redacted before it is logged or thrown.</summary>
    public IReadOnlyList<Secret> Secrets { get; }

    /// <summary>One attempt's wait for a response to start, and the longest silence inside a stream.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>Retries of a transient failure on one endpoint.</summary>
    public int MaxRetries { get; }

    /// <summary>Extra request headers.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; }

    /// <summary>Whether loading checks that an endpoint answers.</summary>
    public bool CheckOnLoad { get; }

    /// <summary>Reports every invalid key of <paramref name="model"/> to <paramref name="context"/>; never includes a key's value.</summary>
    public static void Validate(ModelDescriptor model, ModelValidationContext context)
    {
        var endpoint = model.GetSetting("endpoint");
        if (endpoint is not null && model.Path is not null && !string.Equals(endpoint.TrimEnd('/'), model.Path.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
        {
            context.AddWarning($"{model.ConfigPath}.path", "is ignored: 'endpoint' is set too (path is an alias of endpoint)");
        }

        var first = endpoint ?? model.Path;
        var list = model.GetList("endpoints");
        if (first is null && list.Count == 0)
        {
            context.AddError(model, "endpoint", "an openai model needs 'endpoint' (or 'path', or 'endpoints'): the server's base URL including /v1, e.g. http://127.0.0.1:11434/v1");
        }

        if (first is not null)
        {
            CheckUrl(model, endpoint is not null ? "endpoint" : "path", first, context);
        }

        for (var i = 0; i < list.Count; i++)
        {
            CheckUrl(model, $"endpoints[{i}]", list[i], context);
        }

        if (model.Settings.TryGetValue("model", out var remote) && remote is not null && string.IsNullOrWhiteSpace(remote))
        {
            context.AddError(model, "model", "must not be empty; remove it to send the managed name");
        }

        if (Read(model, "timeout_seconds", "a number of seconds", context, model.GetDouble) is { } t && (!double.IsFinite(t) || t <= 0 || t > MaxTimeoutSeconds))
        {
            context.AddError(model, "timeout_seconds", $"must be more than 0 and at most {MaxTimeoutSeconds} seconds");
        }

        if (Read(model, "max_retries", "an integer", context, model.GetInt32) is < 0 or > MaxRetriesLimit)
        {
            context.AddError(model, "max_retries", $"must be between 0 and {MaxRetriesLimit}");
        }

        Read(model, "check_on_load", "true or false", context, model.GetBoolean);

        var keyEnv = model.GetSetting("api_key_env");
        var plain = model.GetSetting("api_key");
        if (keyEnv is not null)
        {
            if (keyEnv.Contains('=', StringComparison.Ordinal) || keyEnv.Any(char.IsWhiteSpace))
            {
                context.AddError(model, "api_key_env", "must be the name of an environment variable (the variable holds the key, not the key itself)");
            }
            else if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(keyEnv)))
            {
                context.AddWarning($"{model.ConfigPath}.api_key_env", $"environment variable '{keyEnv}' is not set; loading '{model.Name}' will fail until it is");
            }

            if (plain is not null)
            {
                context.AddWarning($"{model.ConfigPath}.api_key", "is ignored: api_key_env is set too and takes precedence");
            }
        }
        else if (plain is not null)
        {
            context.AddWarning($"{model.ConfigPath}.api_key",
                "a plaintext key in the configuration is accepted but discouraged: put it in an environment variable and name that variable in api_key_env");
        }

        foreach (var name in model.GetSection("headers").Keys)
        {
            if (name.Length == 0 || name.Any(c => c <= ' ' || c >= 127 || c == ':' || c == '(' || c == ')' || c == '"' || c == ','))
            {
                context.AddError($"{model.ConfigPath}.headers", $"'{name}' is not a valid HTTP header name");
            }
        }
    }

    /// <summary>Resolves the settings and reads the key from its environment variable.</summary>
    /// <exception cref="ModelLoadException">The key's environment variable is not set, or no endpoint is usable.</exception>
    public static OpenAIModelSettings From(ModelDescriptor model, OpenAIOptions options)
    {
        var urls = new List<Uri>();
        var first = model.GetSetting("endpoint") ?? model.Path;
        foreach (var text in (first is null ? [] : new[] { first }).Concat(model.GetList("endpoints")))
        {
            if (!TryParseUrl(text, out var uri, out var problem))
            {
                throw new ModelLoadException(model.Name, $"Model '{model.Name}': an endpoint is not usable: {problem}.");
            }

            if (!urls.Contains(uri))
            {
                urls.Add(uri);
            }
        }

        if (urls.Count == 0)
        {
            throw new ModelLoadException(model.Name, $"Model '{model.Name}' has no endpoint: set {model.ConfigPath}.endpoint to the server's base URL including /v1.");
        }

        Secret? key = null;
        var source = "none";
        if (model.GetSetting("api_key_env") is { } env)
        {
            var value = Environment.GetEnvironmentVariable(env);
            if (string.IsNullOrEmpty(value))
            {
                throw new ModelLoadException(model.Name, $"Model '{model.Name}': environment variable '{env}' (api_key_env) is not set.");
            }

            key = new Secret(value);
            source = $"environment variable {env}";
        }
        else if (model.GetSetting("api_key") is { } plain)
        {
            key = new Secret(plain);
            source = "api_key in the configuration";
        }

        var seconds = model.GetDouble("timeout_seconds");
        return new OpenAIModelSettings(
            urls,
            model.GetSetting("model") ?? model.Name,
            key,
            source,
            seconds is { } s ? TimeSpan.FromSeconds(s) : options.DefaultTimeout,
            model.GetInt32("max_retries") ?? options.DefaultMaxRetries,
            model.GetSection("headers"),
            model.GetBoolean("check_on_load") ?? true);
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"model={RemoteModel} endpoints={string.Join(",", Endpoints)} timeout={Timeout.TotalSeconds}s retries={MaxRetries} key={(ApiKey is null ? "none" : "[redacted]")} headers={Headers.Count}");

    /// <summary>Reads a typed key, reporting a malformed value as an error instead of throwing, so that the other keys are still checked.</summary>
    private static T? Read<T>(ModelDescriptor model, string key, string expected, ModelValidationContext context, Func<string, T?> read)
        where T : struct
    {
        try
        {
            return read(key);
        }
        catch (FormatException)
        {
            context.AddError(model, key, $"'{model.GetSetting(key)}' is not {expected}");
            return null;
        }
    }

    private static void CheckUrl(ModelDescriptor model, string key, string text, ModelValidationContext context)
    {
        if (!TryParseUrl(text, out var uri, out var problem))
        {
            context.AddError($"{model.ConfigPath}.{key}", problem);
        }
        else if (uri.AbsolutePath is "/" or "")
        {
            context.AddWarning($"{model.ConfigPath}.{key}", $"'{uri}' has no path; OpenAI-compatible servers serve under /v1 (e.g. {uri.GetLeftPart(UriPartial.Authority)}/v1)");
        }
    }

    /// <summary>Parses a base URL; the problem text never repeats a malformed URL, nor one that carries credentials.</summary>
    private static bool TryParseUrl(string text, out Uri uri, out string problem)
    {
        uri = null!;
        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out var parsed) || (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps))
        {
            // The value is not repeated: a malformed URL may be a key pasted in the wrong place, or hold one.
            problem = string.Create(CultureInfo.InvariantCulture,
                $"is not an absolute http:// or https:// URL (a value of {text.Length} characters, not repeated here, as it may hold a secret)");
            return false;
        }

        if (parsed.UserInfo.Length > 0)
        {
            problem = "must not carry credentials (user:password@); put the key in an environment variable named by api_key_env";
            return false;
        }

        // The SDK appends /chat/completions and /models to the base path; without query, fragment or trailing slash.
        uri = new Uri(parsed.GetLeftPart(UriPartial.Path).TrimEnd('/'));
        problem = "";
        return true;
    }
}
