using System.Globalization;

namespace ModelManager;

/// <summary>The validated, immutable description of one managed model, as backends and chat clients see it.</summary>
public sealed class ModelDescriptor
{
    internal ModelDescriptor(
        string name, string type, string? path, int? contextLength, GenerationOptions parameters,
        int memoryPriority, TimeSpan maxIdleTime, bool preload, IReadOnlyList<string> fallbacks,
        IReadOnlyDictionary<string, string?> settings, string configPath, int maxQueue = DefaultMaxQueue, TimeSpan queueTimeout = default,
        ModelCapabilities capabilities = ModelCapabilities.Chat, bool capabilitiesDeclared = false)
    {
        Capabilities = capabilities;
        CapabilitiesDeclared = capabilitiesDeclared;
        MaxQueue = maxQueue;
        QueueTimeout = queueTimeout;
        Name = name;
        Type = type;
        Path = path;
        ContextLength = contextLength;
        Parameters = parameters;
        MemoryPriority = memoryPriority;
        MaxIdleTime = maxIdleTime;
        Preload = preload;
        Fallbacks = fallbacks;
        RawSettings = settings;
        Settings = settings.ToDictionary(kv => kv.Key, kv => IsSecret(kv.Key) && kv.Value is not null ? Redacted : kv.Value, StringComparer.OrdinalIgnoreCase);
        ConfigPath = configPath;
    }

    /// <summary>What <see cref="Settings"/> shows in place of a secret value.</summary>
    public const string Redacted = "[redacted]";

    /// <summary>The model's unique name.</summary>
    public string Name { get; }

    /// <summary>The backend type, lower case (<c>gguf</c>, <c>huggingface</c>, <c>openai</c>, <c>fake</c>).</summary>
    public string Type { get; }

    /// <summary>The model's file, folder or URL, with relative file paths resolved against the config file's folder.</summary>
    public string? Path { get; }

    /// <summary>The configured context length, or null for the backend's default.</summary>
    public int? ContextLength { get; }

    /// <summary>Default generation settings from the config's <c>parameters</c>.</summary>
    public GenerationOptions Parameters { get; }

    /// <summary>1 (keep longest) to 5 (evict first).</summary>
    public int MemoryPriority { get; }

    /// <summary>Unload after this long unused; <see cref="TimeSpan.Zero"/> means never.</summary>
    public TimeSpan MaxIdleTime { get; }

    /// <summary>The default of <c>max_queue</c> (512, as Ollama's request queue).</summary>
    public const int DefaultMaxQueue = 512;

    /// <summary>Calls the model may hold at once, running and waiting (<c>max_queue</c>); 0 = no limit.</summary>
    public int MaxQueue { get; }

    /// <summary>How long a call may wait for its first token (<c>queue_timeout</c>); <see cref="TimeSpan.Zero"/> = no limit.</summary>
    public TimeSpan QueueTimeout { get; }

    /// <summary>What the model serves: the config's <c>capabilities</c>, or what its backend detects from the file when the key is absent.</summary>
    /// <remarks>Asking a model for what it does not serve is a <see cref="NotSupportedException"/> naming it, before anything loads.</remarks>
    public ModelCapabilities Capabilities { get; }

    /// <summary>True when <see cref="Capabilities"/> come from the config's <c>capabilities</c>, false when the backend detected them.</summary>
    public bool CapabilitiesDeclared { get; }

    /// <summary>Whether the host loads the model at start.</summary>
    public bool Preload { get; }

    /// <summary>Models to try, in order, when this one cannot load.</summary>
    public IReadOnlyList<string> Fallbacks { get; }

    /// <summary>Backend-specific keys, flattened with ':' (<c>gpu_layers</c>, <c>parameters:size_mb</c>, <c>endpoints:0</c>); secret values (keys, tokens, passwords, authorization headers) read <see cref="Redacted"/>.</summary>
    /// <remarks>Backends read the real values through <see cref="GetSetting"/> and the other getters.</remarks>
    public IReadOnlyDictionary<string, string?> Settings { get; }

    internal IReadOnlyDictionary<string, string?> RawSettings { get; }

    /// <summary>The JSON path of this model in the configuration, e.g. <c>models[2]</c>, for error messages.</summary>
    public string ConfigPath { get; }

    /// <summary>Returns a backend setting as text, or null when absent.</summary>
    public string? GetSetting(string key) => RawSettings.TryGetValue(key, out var v) && !string.IsNullOrEmpty(v) ? v : null;

    /// <summary>Returns a backend setting as an integer; throws <see cref="FormatException"/> naming the key when malformed.</summary>
    public long? GetInt64(string key) => GetSetting(key) is { } v
        ? long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw Malformed(key, v, "an integer")
        : null;

    /// <summary>Returns a backend setting as a 32-bit integer; throws <see cref="FormatException"/> naming the key when malformed.</summary>
    public int? GetInt32(string key) => GetSetting(key) is { } v
        ? int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : throw Malformed(key, v, "an integer")
        : null;

    /// <summary>Returns a backend setting as a number; throws <see cref="FormatException"/> naming the key when malformed.</summary>
    public double? GetDouble(string key) => GetSetting(key) is { } v
        ? double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : throw Malformed(key, v, "a number")
        : null;

    /// <summary>Returns a backend setting as a boolean; throws <see cref="FormatException"/> naming the key when malformed.</summary>
    public bool? GetBoolean(string key) => GetSetting(key) is { } v
        ? bool.TryParse(v, out var b) ? b : throw Malformed(key, v, "true or false")
        : null;

    /// <summary>Returns a backend setting that is a JSON array of strings (or a single string) as a list.</summary>
    public IReadOnlyList<string> GetList(string key)
    {
        if (GetSetting(key) is { } single)
        {
            return [single];
        }

        var prefix = key + ":";
        return RawSettings
            .Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal) && kv.Value is not null
                         && int.TryParse(kv.Key.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .OrderBy(kv => int.Parse(kv.Key.AsSpan(prefix.Length), CultureInfo.InvariantCulture))
            .Select(kv => kv.Value!)
            .ToArray();
    }

    /// <summary>Returns a backend setting that is a JSON object of strings as a dictionary.</summary>
    public IReadOnlyDictionary<string, string> GetSection(string key)
    {
        var prefix = key + ":";
        return RawSettings
            .Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal) && kv.Value is not null)
            .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value!, StringComparer.OrdinalIgnoreCase);
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} ({Type}{(Path is null ? "" : ", " + Path)})";

    /// <summary>True for keys whose values are credentials: <c>api_key</c>, <c>headers:Authorization</c>, <c>headers:X-Api-Key</c>, any <c>*token</c>, <c>*secret</c>, <c>*password</c>.</summary>
    internal static bool IsSecret(string key)
    {
        var name = key[(key.LastIndexOf(':') + 1)..].ToLowerInvariant();
        return name is "authorization" or "proxy-authorization" || name.EndsWith("key", StringComparison.Ordinal)
               || name.EndsWith("token", StringComparison.Ordinal) || name.EndsWith("secret", StringComparison.Ordinal)
               || name.EndsWith("password", StringComparison.Ordinal) || name.Contains("api-key", StringComparison.Ordinal)
               || name.Contains("api_key", StringComparison.Ordinal) && !name.EndsWith("_env", StringComparison.Ordinal);
    }

    private FormatException Malformed(string key, string value, string expected) =>
        new($"{ConfigPath}.{key.Replace(':', '.')}: '{value}' is not {expected} (model '{Name}')");
}
