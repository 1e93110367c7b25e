using System.Text;

namespace ModelManager.IntegrationTests;

/// <summary>Builds small hand-made GGUF files (any value type, any tensor type, v2 or v3) for reader tests.</summary>
internal sealed class GgufBuilder
{
    private readonly List<(string Key, uint Type, Action<BinaryWriter> Value)> _metadata = [];
    private readonly List<(string Name, uint Type, long[] Dims, long Bytes)> _tensors = [];

    public uint Version { get; init; } = 3;

    public int Alignment { get; init; } = 32;

    public GgufBuilder Add(string key, uint type, Action<BinaryWriter> value)
    {
        _metadata.Add((key, type, value));
        return this;
    }

    public GgufBuilder String(string key, string value) => Add(key, 8, w => WriteString(w, value));

    public GgufBuilder U32(string key, uint value) => Add(key, 4, w => w.Write(value));

    public GgufBuilder Array(string key, uint elementType, int count, Action<BinaryWriter, int> element) => Add(key, 9, w =>
    {
        w.Write(elementType);
        w.Write((ulong)count);
        for (int i = 0; i < count; i++)
        {
            element(w, i);
        }
    });

    /// <summary>Adds a tensor whose data size is <paramref name="bytes"/> (computed by the caller from its type).</summary>
    public GgufBuilder Tensor(string name, uint type, long bytes, params long[] dims)
    {
        _tensors.Add((name, type, dims, bytes));
        return this;
    }

    /// <summary>A minimal llama model description, to which tests add what they exercise.</summary>
    public static GgufBuilder Llama(uint version = 3) => new GgufBuilder { Version = version }
        .String("general.architecture", "llama")
        .U32("llama.block_count", 2)
        .U32("llama.embedding_length", 64)
        .U32("llama.attention.head_count", 8);

    public static void WriteString(BinaryWriter w, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        w.Write((ulong)bytes.Length);
        w.Write(bytes);
    }

    public byte[] Build()
    {
        using var stream = new MemoryStream();
        using (var w = new BinaryWriter(stream, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(0x46554747u);
            w.Write(Version);
            w.Write((ulong)_tensors.Count);
            w.Write((ulong)_metadata.Count);
            foreach (var (key, type, value) in _metadata)
            {
                WriteString(w, key);
                w.Write(type);
                value(w);
            }

            long offset = 0;
            foreach (var (name, type, dims, bytes) in _tensors)
            {
                WriteString(w, name);
                w.Write((uint)dims.Length);
                foreach (long d in dims)
                {
                    w.Write((ulong)d);
                }

                w.Write(type);
                w.Write((ulong)offset);
                offset += Pad(bytes);
            }

            w.Write(new byte[Pad(stream.Length) - stream.Length]);
            foreach (var tensor in _tensors)
            {
                w.Write(new byte[Pad(tensor.Bytes)]);
            }
        }

        return stream.ToArray();
    }

    private long Pad(long value) => (value + Alignment - 1) / Alignment * Alignment;
}
