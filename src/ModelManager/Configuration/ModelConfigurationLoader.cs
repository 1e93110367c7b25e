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

    /// <summary>
    /// Where a configuration path points: an absolute path as it is; a relative one against the working directory, or,
    /// when nothing is there, against the app's base directory (where a build copies <c>config.json</c>), so that an app
    /// started from another folder finds its own file.
    /// </summary>
    /// <returns>The full path, and every place looked in when none had the file.</returns>
    public static (string Full, string[] LookedIn) Resolve(string path, string? baseDirectory = null)
    {
        var full = Path.GetFullPath(path);
        if (Path.IsPathRooted(path) || GuardedFile.GetKind(full) != FileKind.Missing)
        {
            return (full, [full]);
        }

        var beside = Path.GetFullPath(path, baseDirectory ?? AppContext.BaseDirectory);
        return beside != full && GuardedFile.GetKind(beside) != FileKind.Missing ? (beside, [beside]) : (full, beside == full ? [full] : [full, beside]);
    }

    public static void LoadFile(string path, ModelManagerOptions options, string? baseDirectory = null)
    {
        var (full, lookedIn) = Resolve(path, baseDirectory);
        options.Source = full;
        options.BaseDirectory ??= Path.GetDirectoryName(full);
        var kind = GuardedFile.GetKind(full);
        if (kind != FileKind.Regular)
        {
            options.BindErrors.Add(kind switch
            {
                FileKind.Directory => $"{full}: is a folder; expected the path of a config.json file",
                FileKind.Missing => lookedIn.Length > 1
                    ? $"{path}: configuration file not found; looked in {string.Join(" and ", lookedIn)} (the working directory, then the app's base directory)"
                    : $"{full}: configuration file not found",
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
