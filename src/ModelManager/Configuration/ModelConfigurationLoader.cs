using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace ModelManager;

/// <summary>Reads <c>config.json</c> into <see cref="ModelManagerOptions"/>, reporting malformed JSON with line and column.</summary>
internal static class ModelConfigurationLoader
{
    /// <summary>The largest configuration file read (16 MB): far above any real config, far below what would hurt.</summary>
    internal const long MaxConfigBytes = 16L << 20;

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
        var kind = GuardedFile.GetKind(full);
        if (kind != FileKind.Regular)
        {
            options.BindErrors.Add(kind switch
            {
                FileKind.Directory => $"{full}: is a folder; expected the path of a config.json file",
                FileKind.Missing => $"{full}: configuration file not found",
                _ => $"{full}: is {GuardedFile.Describe(kind)}, not a regular file; expected the path of a config.json file",
            });
            return;
        }

        byte[] bytes;
        try
        {
            bytes = GuardedFile.ReadAllBytes(full, MaxConfigBytes, "a configuration file");
        }
        catch (UnreadableFileException e)
        {
            options.BindErrors.Add(e.Message);
            return;
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
