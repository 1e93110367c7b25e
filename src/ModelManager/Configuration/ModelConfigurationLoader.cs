using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace ModelManager;

/// <summary>Reads <c>config.json</c> into <see cref="ModelManagerOptions"/>, reporting malformed JSON with line and column.</summary>
internal static class ModelConfigurationLoader
{
    private static readonly JsonDocumentOptions JsonOptions = new()
    {
        CommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        MaxDepth = 64,
    };

    public static void LoadFile(string path, ModelManagerOptions options)
    {
        var full = Path.GetFullPath(path);
        options.Source = full;
        options.BaseDirectory ??= Path.GetDirectoryName(full);
        if (!File.Exists(full))
        {
            options.BindErrors.Add(Directory.Exists(full)
                ? $"{full}: is a folder; expected the path of a config.json file"
                : $"{full}: configuration file not found");
            return;
        }

        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            options.BindErrors.Add($"{full}: cannot be read: {e.Message}");
            return;
        }

        LoadJson(bytes, full, options);
    }

    public static void LoadJson(ReadOnlyMemory<byte> json, string source, ModelManagerOptions options)
    {
        options.Source ??= source;
        try
        {
            using var doc = JsonDocument.Parse(json, JsonOptions);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                options.BindErrors.Add($"{source}: the configuration must be a JSON object, got {doc.RootElement.ValueKind}");
                return;
            }
        }
        catch (JsonException e)
        {
            var line = (e.LineNumber ?? 0) + 1;
            var column = (e.BytePositionInLine ?? 0) + 1;
            var reason = e.Message.Split(" Path:", 2)[0].Split(" LineNumber:", 2)[0];
            options.BindErrors.Add($"{source}: malformed JSON at line {line}, column {column}: {reason}");
            return;
        }

        using var stream = new MemoryStream(json.ToArray(), writable: false);
        var configuration = new ConfigurationBuilder().AddJsonStream(stream).Build();
        ModelConfigurationBinder.Bind(configuration, options);
    }
}
