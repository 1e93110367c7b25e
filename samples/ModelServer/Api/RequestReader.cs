using System.Globalization;
using System.Text.Json;
using ModelManager;

namespace ModelServer.Api;

/// <summary>Reads and checks OpenAI request bodies field by field, so that each problem is a 400 naming its parameter.</summary>
internal static class RequestReader
{
    /// <summary>Most stop sequences accepted per request.</summary>
    private const int MaxStops = 16;

    /// <summary>Parses the body as a JSON object.</summary>
    public static async Task<JsonElement> ReadObjectAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var doc = await JsonDocument.ParseAsync(request.Body, default, cancellationToken);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ApiException(StatusCodes.Status400BadRequest, $"The request body must be a JSON object, got {Describe(doc.RootElement.ValueKind)}.");
            }

            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new ApiException(StatusCodes.Status400BadRequest,
                $"We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The request body must be JSON: {e.Message})");
        }
        catch (BadHttpRequestException e)
        {
            // Kestrel's own refusals (a body over MaxRequestBodySize is 413) get an OpenAI error body too.
            throw new ApiException(e.StatusCode, $"The request was rejected: {e.Message}", code: e.StatusCode == StatusCodes.Status413PayloadTooLarge ? "request_too_large" : null);
        }
    }

    /// <summary>The required <c>model</c>, resolved to a configured model; 404 when there is none of that name.</summary>
    public static (string Name, ILanguageModel Model) Model(JsonElement body, IModelManager manager)
    {
        var name = String(body, "model") ?? throw Missing("model");
        if (!manager.GetModels().Any(m => m.Name == name))
        {
            throw new ApiException(StatusCodes.Status404NotFound, $"The model '{name}' does not exist or you do not have access to it.", "model", "model_not_found");
        }

        return (name, manager.GetModel(name));
    }

    /// <summary>An optional string field.</summary>
    public static string? String(JsonElement body, string name) => Get(body, name) switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        { } v => throw Invalid(name, $"must be a string, got {Describe(v.ValueKind)}"),
    };

    /// <summary>An optional boolean field.</summary>
    public static bool Bool(JsonElement body, string name) => Get(body, name) switch
    {
        null => false,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        { } v => throw Invalid(name, $"must be a boolean, got {Describe(v.ValueKind)}"),
    };

    /// <summary>An optional integer field within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static long? Integer(JsonElement body, string name, long min, long max)
    {
        if (Get(body, name) is not { } v)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var n))
        {
            throw Invalid(name, $"must be an integer, got {Describe(v.ValueKind)}");
        }

        return n < min || n > max ? throw Invalid(name, $"must be between {min} and {max}, got {n}") : n;
    }

    /// <summary>An optional number field within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public static double? Number(JsonElement body, string name, double min, double max)
    {
        if (Get(body, name) is not { } v)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number)
        {
            throw Invalid(name, $"must be a number, got {Describe(v.ValueKind)}");
        }

        var n = v.GetDouble();
        return n < min || n > max ? throw Invalid(name, $"must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}, got {n.ToString(CultureInfo.InvariantCulture)}") : n;
    }

    /// <summary>The generation settings common to both endpoints; <c>max_completion_tokens</c> wins over <c>max_tokens</c>.</summary>
    public static GenerationOptions Options(JsonElement body)
    {
        OnlyOne(body, "n");

        var temperature = Number(body, "temperature", 0, 2);
        return new GenerationOptions
        {
            MaxTokens = (int?)(Integer(body, "max_completion_tokens", 1, int.MaxValue) ?? Integer(body, "max_tokens", 1, int.MaxValue)),
            Temperature = temperature,
            DoSample = temperature is { } t ? t > 0 : null,
            TopP = Number(body, "top_p", 0, 1),
            TopK = (int?)Integer(body, "top_k", 0, int.MaxValue),
            Seed = Integer(body, "seed", long.MinValue, long.MaxValue),
            StopSequences = Stop(body),
        };
    }

    /// <summary>Reads <c>stream_options</c> (only with <c>stream</c>, as OpenAI): true when it asks for the usage chunk (<c>include_usage</c>).</summary>
    public static bool StreamOptions(JsonElement body, bool stream)
    {
        if (Get(body, "stream_options") is not { } options)
        {
            return false;
        }

        if (!stream)
        {
            throw Invalid("stream_options", "is only allowed when 'stream' is true");
        }

        if (options.ValueKind != JsonValueKind.Object)
        {
            throw Invalid("stream_options", $"must be an object, got {Describe(options.ValueKind)}");
        }

        foreach (var option in options.EnumerateObject())
        {
            if (option.Name != "include_usage")
            {
                throw Invalid("stream_options." + option.Name, "is not supported by this server");
            }
        }

        return Bool(options, "include_usage");
    }

    /// <summary>Fails with 400 when a field names a feature this server does not offer.</summary>
    public static void Unsupported(JsonElement body, params string[] names)
    {
        foreach (var name in names)
        {
            if (Get(body, name) is { ValueKind: not JsonValueKind.False } v && !(v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 0))
            {
                throw Invalid(name, "is not supported by this server");
            }
        }
    }

    /// <summary>
    /// Fails with 400 when a field asks for what no managed model honours: penalties other than 0 and a non-empty
    /// <c>logit_bias</c>. A request option is never silently dropped (a model that cannot honour a response format or
    /// tools says so itself, which is a 400 too).
    /// </summary>
    public static void Unhonoured(JsonElement body)
    {
        foreach (var name in (string[])["frequency_penalty", "presence_penalty"])
        {
            if (Get(body, name) is { } v && !(v.ValueKind == JsonValueKind.Number && v.GetDouble() == 0))
            {
                throw Invalid(name, "is not supported: the models here apply no penalties (only 0 is accepted)");
            }
        }

        if (Get(body, "logit_bias") is { } bias && !(bias.ValueKind == JsonValueKind.Object && !bias.EnumerateObject().Any()))
        {
            throw Invalid("logit_bias", "is not supported by this server");
        }
    }

    /// <summary>Fails with 400 unless the field is absent or 1 (<c>n</c>, <c>best_of</c>): one choice per request.</summary>
    public static void OnlyOne(JsonElement body, string name)
    {
        if (Get(body, name) is { } v && !(v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n == 1))
        {
            throw Invalid(name, "only 1 is supported (one choice per request)");
        }
    }

    public static ApiException Missing(string name) =>
        new(StatusCodes.Status400BadRequest, $"Missing required parameter: '{name}'.", name, "missing_required_parameter");

    public static ApiException Invalid(string name, string problem) =>
        new(StatusCodes.Status400BadRequest, $"Invalid value for '{name}': {problem}.", name, "invalid_value");

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => "null",
    };

    private static List<string>? Stop(JsonElement body)
    {
        switch (Get(body, "stop"))
        {
            case null:
                return null;
            case { ValueKind: JsonValueKind.String } s:
                return s.GetString() is { Length: > 0 } one ? [one] : null;
            case { ValueKind: JsonValueKind.Array } a:
                if (a.GetArrayLength() > MaxStops)
                {
                    throw Invalid("stop", $"at most {MaxStops} sequences are accepted");
                }

                var list = new List<string>();
                foreach (var item in a.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                    {
                        throw Invalid("stop", "must be a string or an array of strings");
                    }

                    if (item.GetString() is { Length: > 0 } text)
                    {
                        list.Add(text);
                    }
                }

                return list.Count > 0 ? list : null;
            default:
                throw Invalid("stop", "must be a string or an array of strings");
        }
    }

    private static JsonElement? Get(JsonElement body, string name) =>
        body.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;
}
