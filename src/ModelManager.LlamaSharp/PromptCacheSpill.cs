using System.Buffers.Binary;
using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using LLama.Batched;
using LLama.Native;
using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>Saves a model's cached sequences to a folder when the manager unloads it, and restores them when it loads again.</summary>
/// <remarks>
/// <para>
/// One file per sequence, <c>{spill_path}/{model}/{n}.mmkv</c>: a header naming what the state belongs to (the GGUF file's
/// full path, length and write time, the context size per sequence and in all, the KV bytes per token, LLamaSharp's
/// version), the sequence's tokens, llama.cpp's state of that sequence, and a SHA-256 of all of it. A file is restored only
/// when its hash holds and every field of the header matches the model as loaded now; any other file (truncated,
/// corrupted, from another model, file version or context size, unreadable) is skipped with a warning and deleted, and
/// never reaches llama.cpp. Files are deleted once restored: the cache holds them again and the next unload writes them anew.
/// </para>
/// <para>
/// The folder's <c>.mmkv</c> files of every model together stay under <c>spill_mb</c>: an unload writes its most recently
/// used sequences while they fit and skips the rest with a warning. A write that fails (full disk, no permission) skips that
/// sequence with a warning; nothing is ever thrown to the manager. Treat the folder like the model files: a process that
/// can write there can hand llama.cpp a state to load.
/// </para>
/// </remarks>
internal sealed class PromptCacheSpill(string modelName, string folder, long maxBytes, string identity, ILogger logger)
{
    private const string Extension = ".mmkv";
    private static readonly byte[] Magic = "MMKV1\n"u8.ToArray();

    /// <summary>The folder of this model's files.</summary>
    public string ModelFolder { get; } = Path.Combine(Path.GetFullPath(folder), SafeName(modelName));

    /// <summary>What a file must name to be restored into this model: file identity and context shape, as text.</summary>
    public static string Identity(string modelPath, int contextPerSequence, int parallel)
    {
        var file = new FileInfo(modelPath);
        return string.Create(CultureInfo.InvariantCulture,
            $"{file.FullName}|{file.Length}|{file.LastWriteTimeUtc.Ticks}|ctx {contextPerSequence}|parallel {parallel}|llamasharp {typeof(Conversation).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion}");
    }

    /// <summary>Writes the cache's sequences, most recently used first, while the folder stays under its cap.</summary>
    /// <returns>Sequences written.</returns>
    public int Save(PromptCache cache)
    {
        var written = 0;
        try
        {
            Directory.CreateDirectory(ModelFolder);
            DeleteOwnFiles();
            var used = FolderBytes();
            var order = 0;
            foreach (var entry in cache.Entries)
            {
                var bytes = Encode(entry);
                if (used + bytes.Length > maxBytes)
                {
                    LlamaSharpLog.SpillSkipped(logger, modelName, ModelFolder, $"the spill folder would exceed spill_mb ({maxBytes / (1024 * 1024)} MB) with this {bytes.Length}-byte sequence");
                    continue;
                }

                var path = Path.Combine(ModelFolder, order.ToString(CultureInfo.InvariantCulture) + Extension);
                var partial = path + ".partial";
                try
                {
                    File.WriteAllBytes(partial, bytes);
                    File.Move(partial, path, overwrite: true);
                    used += bytes.Length;
                    written++;
                    order++;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    TryDelete(partial);
                    LlamaSharpLog.SpillSkipped(logger, modelName, path, e.Message);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            LlamaSharpLog.SpillSkipped(logger, modelName, ModelFolder, e.Message);
        }

        if (written > 0)
        {
            LlamaSharpLog.Spilled(logger, modelName, written, ModelFolder);
        }

        return written;
    }

    /// <summary>Restores this model's files into <paramref name="cache"/>, least recently used first, and deletes every file it read.</summary>
    /// <remarks>llama.cpp checks each state again when a request first loads it; one it refuses is dropped then.</remarks>
    /// <returns>Sequences restored.</returns>
    public int Restore(PromptCache cache, int contextPerSequence)
    {
        string[] files;
        try
        {
            if (!Directory.Exists(ModelFolder))
            {
                return 0;
            }

            // Saved most recent first (0, 1, ...): restore in reverse so the cache keeps their order of use.
            files = Directory.GetFiles(ModelFolder, "*" + Extension)
                .OrderByDescending(f => int.TryParse(Path.GetFileNameWithoutExtension(f), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : int.MaxValue)
                .ToArray();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LlamaSharpLog.SpillDiscarded(logger, modelName, ModelFolder, e.Message);
            return 0;
        }

        var restored = 0;
        foreach (var file in files)
        {
            if (Decode(file, contextPerSequence, out var tokens, out var state) is { } why)
            {
                LlamaSharpLog.SpillDiscarded(logger, modelName, file, why);
            }
            else if (cache.Add(tokens, state, key: null, restored: true))
            {
                restored++;
            }
            else
            {
                LlamaSharpLog.SpillDiscarded(logger, modelName, file, "it does not fit the cache's memory_mb");
            }

            TryDelete(file);
        }

        return restored;
    }

    private byte[] Encode(PromptCache.Entry entry)
    {
        var header = Encoding.UTF8.GetBytes(identity);
        using var output = new MemoryStream();
        output.Write(Magic);
        WriteInt32(output, header.Length);
        output.Write(header);
        WriteInt32(output, entry.Tokens.Length);
        foreach (var t in entry.Tokens)
        {
            WriteInt32(output, (int)t);
        }

        WriteInt32(output, entry.State.Length);
        output.Write(entry.State);
        output.Write(SHA256.HashData(output.GetBuffer().AsSpan(0, (int)output.Length)));
        return output.ToArray();
    }

    /// <summary>Reads and checks one file; returns why it cannot be used, or null with its tokens and state.</summary>
    private string? Decode(string file, int contextPerSequence, out LLamaToken[] tokens, out byte[] state)
    {
        tokens = [];
        state = [];
        byte[] bytes;
        try
        {
            bytes = GuardedFile.ReadAllBytes(file, maxBytes, $"a prompt cache spill file of model '{modelName}'");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return e.Message;
        }

        const int HashBytes = 32;
        if (bytes.Length < Magic.Length + 4 + HashBytes || !bytes.AsSpan(0, Magic.Length).SequenceEqual(Magic))
        {
            return "not a spill file of this version";
        }

        var body = bytes.AsSpan(0, bytes.Length - HashBytes);
        if (!SHA256.HashData(body).AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - HashBytes)))
        {
            return "its checksum does not match (truncated or corrupted)";
        }

        var at = Magic.Length;
        var headerLength = ReadInt32(body, ref at);
        if (headerLength < 0 || headerLength > body.Length - at)
        {
            return "its header is malformed";
        }

        if (Encoding.UTF8.GetString(body.Slice(at, headerLength)) != identity)
        {
            return "it belongs to another model file, file version or context size";
        }

        at += headerLength;
        var count = ReadInt32(body, ref at);
        if (count < 1 || count >= contextPerSequence || (long)count * 4 > body.Length - at)
        {
            return $"its token count {count} does not fit the context of {contextPerSequence}";
        }

        tokens = new LLamaToken[count];
        for (var i = 0; i < count; i++)
        {
            tokens[i] = (LLamaToken)ReadInt32(body, ref at);
        }

        var stateLength = ReadInt32(body, ref at);
        if (stateLength <= 0 || stateLength != body.Length - at)
        {
            tokens = [];
            return "its state length is malformed";
        }

        state = body.Slice(at, stateLength).ToArray();
        return null;
    }

    private void DeleteOwnFiles()
    {
        foreach (var f in Directory.EnumerateFiles(ModelFolder))
        {
            if (f.EndsWith(Extension, StringComparison.Ordinal) || f.EndsWith(Extension + ".partial", StringComparison.Ordinal))
            {
                TryDelete(f);
            }
        }
    }

    private long FolderBytes()
    {
        long total = 0;
        foreach (var f in Directory.EnumerateFiles(Path.GetDirectoryName(ModelFolder)!, "*" + Extension, SearchOption.AllDirectories))
        {
            try
            {
                total += new FileInfo(f).Length;
            }
            catch (IOException)
            {
            }
        }

        return total;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static void WriteInt32(Stream output, int value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(b, value);
        output.Write(b);
    }

    /// <summary>The next little-endian integer, or -1 past the end (every caller rejects a negative value).</summary>
    private static int ReadInt32(ReadOnlySpan<byte> bytes, ref int at)
    {
        if (at > bytes.Length - 4)
        {
            return -1;
        }

        var value = BinaryPrimitives.ReadInt32LittleEndian(bytes.Slice(at, 4));
        at += 4;
        return value;
    }

    /// <summary>A folder name for a model name: its letters, digits, '-', '_' and '.', and a hash of the whole name so two names never share a folder.</summary>
    private static string SafeName(string name)
    {
        var kept = new string(name.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '_').ToArray()).TrimStart('.');
        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(name)).AsSpan(0, 4));
        return $"{(kept.Length > 64 ? kept[..64] : kept)}-{hash}";
    }
}
