using System.Globalization;
using System.Numerics;

namespace ModelManager;

/// <summary>Parses and validates a GGUF file's header, metadata and tensor table in managed code.</summary>
/// <remarks>
/// llama.cpp aborts the process on some malformed input, so this reader is the gate in front of it:
/// it throws only <see cref="ModelFormatException"/> (naming the byte offset) or the I/O exceptions of an
/// unreadable file, bounds every count and length by the bytes left in the file before using it, and
/// reads only the header and tables, never the tensor data. It mirrors llama.cpp's <c>gguf_init_from_file</c>
/// check for check (tensors contiguous in table order, names under 64 bytes, rows whole blocks), adds the model
/// loader's bounds check and the metadata that llama.cpp asserts on (alignment type, tokenizer arrays, expert
/// counts), and is stricter in one place: tensors need 1 to 4 dimensions, not 0 to 4. Nested arrays, which the
/// specification allows and llama.cpp refuses, are parsed (to a depth of 8) and skipped.
/// Stateless and thread-safe.
/// </remarks>
internal static partial class GgufReader
{
    /// <summary>The GGUF magic, "GGUF" read as a little-endian u32.</summary>
    public const uint Magic = 0x46554747;

    /// <summary>Magic, version, tensor count and key/value count: the smallest possible GGUF file.</summary>
    public const int HeaderSize = 24;

    /// <summary>The most tensors a file may declare (real models have a few thousand at most).</summary>
    public const long MaxTensorCount = 1_000_000;

    /// <summary>The most metadata pairs a file may declare.</summary>
    public const long MaxKeyValueCount = 1_000_000;

    /// <summary>The longest string value accepted (chat templates are kilobytes).</summary>
    public const long MaxStringLength = 64L * 1024 * 1024;

    /// <summary>The longest metadata key, per the GGUF specification.</summary>
    public const int MaxKeyLength = 65_535;

    /// <summary>The longest tensor name (ggml's GGML_MAX_NAME is 64 including the terminator).</summary>
    public const int MaxTensorNameLength = 63;

    /// <summary>The most elements an array may declare (llama.cpp's GGUF_MAX_ARRAY_ELEMENTS).</summary>
    public const long MaxArrayCount = 1L << 30;

    /// <summary>ggml's GGML_MAX_DIMS.</summary>
    public const int MaxDimensions = 4;

    /// <summary>The data alignment when <c>general.alignment</c> is absent.</summary>
    public const int DefaultAlignment = 32;

    private const int MaxArrayDepth = 8;

    // Integer arrays up to this size are scanned for their largest element (per-layer head counts);
    // larger ones (token types, merges) are skipped without reading them.
    private const long MaxScannedArray = 65_536;

    // Smallest encodings, used to bound declared counts by the bytes that remain.
    private const long MinKeyValueSize = 8 + 1 + 4 + 1;
    private const long MinTensorInfoSize = 8 + 4 + 8 + 4 + 8;

    /// <summary>Reads and validates the GGUF file at <paramref name="path"/>.</summary>
    /// <exception cref="ModelFormatException">The file is not a valid GGUF v2/v3 file.</exception>
    /// <exception cref="IOException">The file cannot be opened or read (including <see cref="FileNotFoundException"/>).</exception>
    /// <exception cref="UnauthorizedAccessException">The file cannot be opened for reading.</exception>
    internal static GgufModelInfo Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        GuardedFile.EnsureReadable(path, long.MaxValue, "a GGUF model");
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.RandomAccess);
        return Read(stream, path);
    }

    /// <summary>Reads and validates GGUF content from a seekable stream; <paramref name="filePath"/> names it in errors.</summary>
    internal static GgufModelInfo Read(Stream stream, string filePath)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanSeek || !stream.CanRead)
        {
            throw new ArgumentException("The stream must be readable and seekable.", nameof(stream));
        }

        var reader = new GgufByteReader(stream, filePath);
        try
        {
            return ReadCore(reader);
        }
        catch (Exception ex) when (ex is not (ModelFormatException or IOException or UnauthorizedAccessException or OutOfMemoryException or OperationCanceledException))
        {
            // Defensive: a parsing bug must still surface as a format error, never as a crash.
            throw new ModelFormatException(filePath, $"unexpected {ex.GetType().Name} while parsing GGUF: {ex.Message}", reader.Position, innerException: ex);
        }
        finally
        {
            reader.Wipe();
        }
    }

    private static GgufModelInfo ReadCore(GgufByteReader r)
    {
        if (r.Length < HeaderSize)
        {
            throw r.Error($"file is {r.Length} bytes, too small for a GGUF header ({HeaderSize} bytes)", r.Length);
        }

        uint magic = r.ReadUInt32("magic");
        if (magic != Magic)
        {
            throw r.Error($"not a GGUF file: magic is {DescribeMagic(magic)}, expected 'GGUF'", 0);
        }

        uint version = r.ReadUInt32("version");
        if ((version & 0xFFFF) == 0 && version != 0)
        {
            throw r.Error($"unsupported GGUF version {version} (0x{version:X8}); a big-endian file?", 4);
        }

        if (version == 1)
        {
            throw r.Error("GGUF version 1 is not supported (re-convert the model with a current llama.cpp)", 4);
        }

        if (version is not (2 or 3))
        {
            throw r.Error($"unsupported GGUF version {version}; versions 2 and 3 are supported", 4);
        }

        ulong tensorCount = r.ReadUInt64("tensor count");
        ulong kvCount = r.ReadUInt64("metadata key/value count");
        if (tensorCount > MaxTensorCount)
        {
            throw r.Error($"tensor count {tensorCount} exceeds the limit of {MaxTensorCount}", 8);
        }

        if (kvCount > MaxKeyValueCount)
        {
            throw r.Error($"metadata key/value count {kvCount} exceeds the limit of {MaxKeyValueCount}", 16);
        }

        // Every entry takes some bytes, so counts the file cannot hold are lies (or a truncated file).
        ulong minimum = (tensorCount * MinTensorInfoSize) + (kvCount * MinKeyValueSize);
        if (minimum > (ulong)r.Remaining)
        {
            long offset = tensorCount * MinTensorInfoSize > (ulong)r.Remaining ? 8 : kvCount * MinKeyValueSize > (ulong)r.Remaining ? 16 : 8;
            throw r.Error(
                $"tensor count {tensorCount} and metadata key/value count {kvCount} need at least {minimum} bytes but only {r.Remaining} remain (truncated or corrupt file)",
                offset);
        }

        var kvs = ReadMetadata(r, (long)kvCount);
        int alignment = GetAlignment(r, kvs);
        var tensors = ReadTensorTable(r, (long)tensorCount);
        (long dataOffset, long tensorBytes) = ValidateTensorData(r, tensors, alignment);
        return BuildInfo(r, version, alignment, dataOffset, tensorBytes, kvs, tensors);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static Dictionary<string, MetadataValue> ReadMetadata(GgufByteReader r, long count)
    {
        var kvs = new Dictionary<string, MetadataValue>(StringComparer.Ordinal);
        for (long i = 0; i < count; i++)
        {
            long keyOffset = r.Position;
            string key = r.ReadString($"metadata key #{i}", MaxKeyLength);
            if (key.Length == 0)
            {
                throw r.Error($"metadata key #{i} is empty", keyOffset);
            }

            if (kvs.ContainsKey(key))
            {
                throw r.Error($"duplicate metadata key '{key}'", keyOffset);
            }

            var type = ReadValueType(r, $"value type of '{key}'", $"metadata key '{key}' has unknown value type");
            long valueOffset = r.Position;
            var value = new MetadataValue(type, valueOffset);
            if (type == GgufValueType.Array)
            {
                ReadArray(r, key, value, depth: 0);
            }
            else
            {
                value.Scalar = ReadScalar(r, type, key);
            }

            kvs.Add(key, value);
        }

        return kvs;
    }

    // A value type tag; an unknown one is an error at the tag's offset, "{unknown} {number}".
    private static GgufValueType ReadValueType(GgufByteReader r, string what, string unknown)
    {
        long offset = r.Position;
        uint raw = r.ReadUInt32(what);
        if (raw > (uint)GgufValueType.Float64)
        {
            throw r.Error($"{unknown} {raw}", offset);
        }

        return (GgufValueType)raw;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static object ReadScalar(GgufByteReader r, GgufValueType type, string key) => type switch
    {
        GgufValueType.UInt8 => (ulong)r.ReadByte(key),
        GgufValueType.Int8 => (long)(sbyte)r.ReadByte(key),
        GgufValueType.UInt16 => (ulong)r.ReadUInt16(key),
        GgufValueType.Int16 => (long)(short)r.ReadUInt16(key),
        GgufValueType.UInt32 => (ulong)r.ReadUInt32(key),
        GgufValueType.Int32 => (long)(int)r.ReadUInt32(key),
        GgufValueType.Float32 => (double)r.ReadSingle(key),
        GgufValueType.Bool => r.ReadByte(key) != 0,
        GgufValueType.String => r.ReadString($"string value of '{key}'", MaxStringLength),
        GgufValueType.UInt64 => r.ReadUInt64(key),
        GgufValueType.Int64 => (long)r.ReadUInt64(key),
        GgufValueType.Float64 => r.ReadDouble(key),
        _ => throw new InvalidOperationException($"not a scalar type: {type}"),
    };

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static void ReadArray(GgufByteReader r, string key, MetadataValue? value, int depth)
    {
        long typeOffset = r.Position;
        var elementType = ReadValueType(r, $"array element type of '{key}'", $"metadata key '{key}' is an array of unknown value type");
        long countOffset = r.Position;
        ulong count = r.ReadUInt64($"array length of '{key}'");
        long minSize = elementType switch
        {
            GgufValueType.String => 8,
            GgufValueType.Array => 4 + 8,
            _ => ScalarSize(elementType),
        };
        if (count > MaxArrayCount || count > (ulong)(r.Remaining / minSize))
        {
            throw r.Error($"metadata array '{key}' declares {count} elements of type {elementType}, more than the {r.Remaining} remaining bytes can hold", countOffset);
        }

        if (value is not null)
        {
            value.ElementType = elementType;
            value.Count = (long)count;
        }

        long n = (long)count;
        switch (elementType)
        {
            case GgufValueType.Array:
                if (depth + 1 >= MaxArrayDepth)
                {
                    throw r.Error($"metadata array '{key}' nests arrays deeper than {MaxArrayDepth} levels", typeOffset);
                }

                for (long i = 0; i < n; i++)
                {
                    ReadArray(r, key, null, depth + 1);
                }

                break;

            case GgufValueType.String:
                string what = $"string in array '{key}'";
                var longest = 0;
                for (long i = 0; i < n; i++)
                {
                    longest = Math.Max(longest, r.SkipString(what, MaxStringLength));
                }

                if (value is not null)
                {
                    value.LongestString = longest;
                }

                break;

            default:
                if (value is not null && IsInteger(elementType) && n > 0 && n <= MaxScannedArray)
                {
                    long max = long.MinValue;
                    for (long i = 0; i < n; i++)
                    {
                        max = Math.Max(max, ToInt64(ReadScalar(r, elementType, key)));
                    }

                    value.IntegerMax = max;
                }
                else
                {
                    r.Skip(n * minSize, $"array '{key}'");
                }

                break;
        }
    }

    private static int GetAlignment(GgufByteReader r, Dictionary<string, MetadataValue> kvs)
    {
        if (!kvs.TryGetValue("general.alignment", out var kv))
        {
            return DefaultAlignment;
        }

        // llama.cpp fetches it with a type GGML_ASSERT: any other type aborts the process (seen with LLamaSharp 0.30.0).
        if (kv.Type != GgufValueType.UInt32)
        {
            throw r.Error($"general.alignment must be a u32 but is {Describe(kv)}", kv.Offset);
        }

        ulong alignment = (ulong)kv.Scalar!;
        if (alignment == 0 || !BitOperations.IsPow2(alignment) || alignment > (1UL << 30))
        {
            throw r.Error($"general.alignment {alignment} is not a power of two up to 2^30", kv.Offset);
        }

        return (int)alignment;
    }

    private static long? GetArrayCount(Dictionary<string, MetadataValue> kvs, string key) =>
        kvs.TryGetValue(key, out var kv) && kv.Type == GgufValueType.Array ? kv.Count : null;

    private static bool IsInteger(GgufValueType type) => type is GgufValueType.UInt8 or GgufValueType.Int8
        or GgufValueType.UInt16 or GgufValueType.Int16 or GgufValueType.UInt32 or GgufValueType.Int32
        or GgufValueType.UInt64 or GgufValueType.Int64;

    // u64 values above long.MaxValue clamp to long.MaxValue; callers treat them as absurd sizes.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static long ToInt64(object scalar) => scalar switch
    {
        ulong u => u > long.MaxValue ? long.MaxValue : (long)u,
        long l => l,
        _ => throw new InvalidOperationException($"not an integer: {scalar.GetType().Name}"),
    };

    private static long ScalarSize(GgufValueType type) => type switch
    {
        GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
        GgufValueType.UInt16 or GgufValueType.Int16 => 2,
        GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
        _ => 8,
    };

    private static long AlignUp(long value, int alignment) => (value + alignment - 1) / alignment * alignment;

    private static string FormatScalar(object scalar) => scalar switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => scalar.ToString() ?? "",
    };

    private static string Describe(MetadataValue kv) =>
        kv.Type == GgufValueType.Array ? $"an array of {kv.ElementType}" : kv.Type.ToString();

    private static string DescribeMagic(uint magic)
    {
        Span<char> chars = stackalloc char[4];
        for (int i = 0; i < 4; i++)
        {
            byte b = (byte)(magic >> (8 * i));
            chars[i] = b is >= 0x20 and < 0x7F ? (char)b : '?';
        }

        return $"'{chars}' (0x{magic:X8})";
    }

    private sealed class MetadataValue(GgufValueType type, long offset)
    {
        public GgufValueType Type { get; } = type;

        // The file offset of the value (after the type tag), where errors about it point.
        public long Offset { get; } = offset;

        public object? Scalar { get; set; }

        public GgufValueType ElementType { get; set; }

        public long Count { get; set; }

        public long? IntegerMax { get; set; }

        // For an array of strings: the longest, in UTF-8 bytes.
        public int LongestString { get; set; }
    }

    private readonly record struct TensorEntry(GgufTensorInfo Tensor, long OffsetFieldOffset);
}
