using System.Buffers.Binary;
using System.Text;

namespace ModelManager.IntegrationTests;

/// <summary>Named malformed variants of a small valid synthetic GGUF, for any reader that must reject them cleanly.</summary>
/// <remarks>Built once per process from a cached synthetic model; the variants share no arrays with each other.</remarks>
internal static class CorruptGgufCorpus
{
    /// <summary>The options of the valid model the variants start from (about 200 KB, with a chat template).</summary>
    public static SyntheticGgufOptions Options { get; } = new()
    {
        TargetBytes = 200_000,
        Seed = 7,
        ChatTemplate = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}",
    };

    private static readonly Lazy<(byte[] Bytes, GgufFieldMap Map)> Valid = new(() =>
    {
        string path = TestCache.Model(Options);
        byte[] bytes = File.ReadAllBytes(path);
        return (bytes, GgufFieldMap.Parse(bytes));
    });

    private static readonly Lazy<IReadOnlyList<CorruptGguf>> All = new(Build);

    /// <summary>A fresh copy of the valid file's bytes.</summary>
    public static byte[] ValidBytes => (byte[])Valid.Value.Bytes.Clone();

    /// <summary>Every variant.</summary>
    public static IReadOnlyList<CorruptGguf> Variants => All.Value;

    /// <summary>The variant called <paramref name="name"/>.</summary>
    public static CorruptGguf Get(string name) => Variants.Single(v => v.Name == name);

    internal static GgufFieldMap Map => Valid.Value.Map;

    private static List<CorruptGguf> Build()
    {
        var map = Map;
        int length = Valid.Value.Bytes.Length;
        var tokens = map.Key("tokenizer.ggml.tokens");
        var name = map.Key("general.name");
        var scores = map.Key("tokenizer.ggml.scores");
        var tokenTypes = map.Key("tokenizer.ggml.token_type");
        var alignment = map.Key("general.alignment");
        var blockCount = map.Key("llama.block_count");
        var heads = map.Key("llama.attention.head_count");
        var kvHeads = map.Key("llama.attention.head_count_kv");
        var embedding = map.Key("llama.embedding_length");
        var rope = map.Key("llama.rope.dimension_count");
        var feedForward = map.Key("llama.feed_forward_length");
        uint Value(GgufFieldMap.KeyValueField key) => BinaryPrimitives.ReadUInt32LittleEndian(Valid.Value.Bytes.AsSpan(key.ValueOffset));
        var first = map.Tensors[0];
        var second = map.Tensors[1];
        var third = map.Tensors[2];
        var last = map.Tensors[^1];
        var attnK = map.Tensor("blk.0.attn_k.weight");
        var attnV = map.Tensor("blk.0.attn_v.weight");
        long lastData = map.DataOffset + last.Offset;

        var list = new List<CorruptGguf>
        {
            // Size and header.
            new("empty-file", [], 0, "too small"),
            new("header-23-bytes", Slice(23), 23, "too small"),
            Patch("bad-magic", b => Encoding.ASCII.GetBytes("GGUX").CopyTo(b, 0), 0, "not a GGUF file"),
            Patch("version-0", b => U32(b, 4, 0), 4, "version"),
            Patch("version-1", b => U32(b, 4, 1), 4, "version 1"),
            Patch("version-99", b => U32(b, 4, 99), 4, "version 99"),
            Patch("version-big-endian", b => U32(b, 4, 0x03000000), 4, "big-endian"),
            Patch("tensor-count-huge", b => U64(b, 8, ulong.MaxValue), 8, "tensor count"),
            Patch("tensor-count-over-limit", b => U64(b, 8, 2_000_000), 8, "limit"),
            Patch("tensor-count-exceeds-file", b => U64(b, 8, 100_000), 8, "remain"),
            Patch("kv-count-huge", b => U64(b, 16, 1UL << 40), 16, "key/value count"),
            Patch("kv-count-exceeds-file", b => U64(b, 16, 900_000), 16, "remain"),

            // Truncations, from the header to the last byte.
            new("truncated-after-header", Slice(30), 8, "remain"),
            new("truncated-in-metadata", Slice(name.ValueOffset + 4), 8, "remain"),
            new("truncated-in-token-array", Slice(tokens.CountOffset + 8 + 3000), null, "remain"),
            new("truncated-in-tensor-table", Slice(third.EntryOffset + 5), null, "end of file"),
            new("truncated-at-table-end", Slice((int)map.TableEnd), null, "beyond the end"),
            new("truncated-in-tensor-data", Slice((int)lastData + 10), last.OffsetFieldOffset, "beyond the end"),
            new("truncated-last-byte", Slice(length - 1), last.OffsetFieldOffset, "beyond the end"),

            // Metadata.
            Patch("key-length-huge", b => U64(b, 24, 1UL << 40), 24, "limit"),
            Patch("string-length-beyond-file", b => U64(b, name.ValueOffset, (ulong)length), name.ValueOffset, "remain"),
            Patch("key-empty", b => U64(b, 24, 0), 24, "empty"),
            Patch("string-value-huge", b => U64(b, name.ValueOffset, 1UL << 62), name.ValueOffset, "limit"),
            Patch("array-count-huge", b => U64(b, tokens.CountOffset, 1UL << 62), tokens.CountOffset, "declares"),
            Patch("array-count-exceeds-file", b => U64(b, tokens.CountOffset, 10_000_000), tokens.CountOffset, "declares"),
            Patch("value-type-unknown", b => U32(b, name.TypeOffset, 13), name.TypeOffset, "unknown value type 13"),
            Patch("array-element-type-unknown", b => U32(b, tokens.ElementTypeOffset, 77), tokens.ElementTypeOffset, "unknown value type 77"),
            Patch("duplicate-key", b => Rename(b, map.Key("tokenizer.ggml.eos_token_id").KeyOffset, "tokenizer.ggml.bos_token_id"), map.Key("tokenizer.ggml.eos_token_id").KeyOffset, "duplicate metadata key"),
            Patch("alignment-wrong-type", b => U32(b, alignment.TypeOffset, 5), alignment.ValueOffset, "must be a u32"),
            Patch("alignment-not-power-of-two", b => U32(b, alignment.ValueOffset, 48), alignment.ValueOffset, "power of two"),
            Patch("alignment-zero", b => U32(b, alignment.ValueOffset, 0), alignment.ValueOffset, "power of two"),
            Patch("architecture-missing", b => Rename(b, map.Key("general.architecture").KeyOffset, "general.architecturf"), 24, "general.architecture is missing"),
            Patch("token-scores-not-float", b => U32(b, scores.ElementTypeOffset, 5), scores.ValueOffset, "must be an array of Float32"),
            Patch("token-types-not-int32", b => U32(b, tokenTypes.ElementTypeOffset, 6), tokenTypes.ValueOffset, "must be an array of Int32"),
            Patch("block-count-negative", b => { U32(b, blockCount.TypeOffset, 5); U32(b, blockCount.ValueOffset, uint.MaxValue); }, blockCount.ValueOffset, "negative"),
            Patch("block-count-not-integer", b => U32(b, blockCount.TypeOffset, 6), blockCount.ValueOffset, "must be an integer"),

            // Hyperparameters llama.cpp refuses with a bare "failed to load model": named in the managed gate.
            Patch("head-count-zero", b => U32(b, heads.ValueOffset, 0), heads.ValueOffset, "head_count is 0"),
            Patch("head-count-kv-zero", b => U32(b, kvHeads.ValueOffset, 0), kvHeads.ValueOffset, "head_count_kv is 0"),
            Patch("head-count-kv-not-dividing", b => U32(b, kvHeads.ValueOffset, Value(heads) + 1), kvHeads.ValueOffset, "does not divide head_count"),
            Patch("embedding-length-65", b => U32(b, embedding.ValueOffset, 65), embedding.ValueOffset, "65 is not a multiple of head_count"),
            Patch("rope-dimension-1000", b => U32(b, rope.ValueOffset, 1000), rope.ValueOffset, "exceeds the head size"),
            Patch("feed-forward-zero", b => U32(b, feedForward.ValueOffset, 0), feedForward.ValueOffset, "feed_forward_length is 0"),
            Patch("block-count-mismatch", b => U32(b, blockCount.ValueOffset, Value(blockCount) + 1), blockCount.ValueOffset, "but the tensors hold"),

            // Tensor table.
            Patch("tensor-name-too-long", b => U64(b, first.EntryOffset, 100), first.EntryOffset, "limit of 63"),
            Patch("duplicate-tensor-name", b => Rename(b, attnV.EntryOffset, attnK.Name), attnV.EntryOffset, "duplicate tensor name"),
            Patch("n-dims-zero", b => U32(b, second.NDimsOffset, 0), second.NDimsOffset, "0 dimensions"),
            Patch("n-dims-nine", b => U32(b, second.NDimsOffset, 9), second.NDimsOffset, "9 dimensions"),
            Patch("dims-overflow", b => { U64(b, first.DimOffset(0), 1UL << 40); U64(b, first.DimOffset(1), 1UL << 40); }, first.NDimsOffset, "overflows"),
            Patch("dim-not-representable", b => U64(b, first.DimOffset(0), 1UL << 63), first.DimOffset(0), "not representable"),
            Patch("ggml-type-unknown", b => U32(b, first.TypeOffset, 99), first.TypeOffset, "unknown ggml type 99"),
            Patch("ggml-type-removed", b => U32(b, first.TypeOffset, 31), first.TypeOffset, "unknown ggml type 31"),
            Patch("block-size-mismatch", b => U32(b, first.TypeOffset, 12), first.NDimsOffset, "block size"),
            Patch("tensor-offset-beyond-eof", b => U64(b, last.OffsetFieldOffset, 1UL << 40), last.OffsetFieldOffset, "beyond the end"),
            Patch("tensor-offset-huge", b => U64(b, last.OffsetFieldOffset, ulong.MaxValue), last.OffsetFieldOffset, "beyond any file"),
            Patch("tensor-offset-misaligned", b => U64(b, second.OffsetFieldOffset, (ulong)second.Offset + 4), second.OffsetFieldOffset, "alignment"),
            Patch("tensor-offset-overlap", b => U64(b, third.OffsetFieldOffset, (ulong)second.Offset), third.OffsetFieldOffset, "overlaps"),
            Patch("tensor-offset-gap", b => U64(b, second.OffsetFieldOffset, (ulong)second.Offset + 64), second.OffsetFieldOffset, "gap"),
        };

        return list;
    }

    private static byte[] Slice(int length) => Valid.Value.Bytes.AsSpan(0, length).ToArray();

    private static CorruptGguf Patch(string name, Action<byte[]> patch, long? offset, string message)
    {
        byte[] bytes = ValidBytes;
        patch(bytes);
        return new CorruptGguf(name, bytes, offset, message);
    }

    private static void U32(byte[] b, int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(offset), value);

    private static void U64(byte[] b, int offset, ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(offset), value);

    // Overwrites the GGUF string at offset with another of the same length.
    private static void Rename(byte[] b, int offset, string replacement)
    {
        byte[] text = Encoding.UTF8.GetBytes(replacement);
        if (BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(offset)) != (ulong)text.Length)
        {
            throw new InvalidOperationException($"'{replacement}' does not have the length of the string it replaces");
        }

        text.CopyTo(b, offset + 8);
    }
}
