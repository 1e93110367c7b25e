using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace ModelManager;

/// <summary>Writes llama-architecture GGUF v3 models with pseudo-random F32 weights and a byte-level tokenizer, for tests.</summary>
/// <remarks>
/// The model loads and generates in llama.cpp (LLamaSharp); its text is noise. The vocabulary is
/// SentencePiece-style (<c>tokenizer.ggml.model = llama</c>): <c>&lt;unk&gt;</c>, <c>&lt;s&gt;</c>, <c>&lt;/s&gt;</c>,
/// the 256 byte tokens <c>&lt;0x00&gt;</c>..<c>&lt;0xFF&gt;</c>, <c>▁</c>, the printable ASCII characters and the ChatML
/// markers, so any text tokenizes through byte fallback. Output rows of every token but <c>▁</c> and printable ASCII
/// are zero, so greedy decoding never ends early on end-of-sequence and emits printable text.
/// Files are written streaming (memory use does not grow with size), and the same options always give the
/// same bytes. Thread-safe; concurrent <see cref="GetOrCreate"/> calls for the same options are safe.
/// </remarks>
public static class SyntheticGgufWriter
{
    // Bump whenever the bytes written for the same options change, so cached files are not reused.
    private const int FormatRevision = 1;
    private const int Alignment = 32;
    private const uint GgufVersion = 3;

    // Every weight is F32 (written from float spans); its size comes from the reader's table, as the reader checks it.
    private const GgmlType WeightType = GgmlType.F32;
    private static readonly long BytesPerWeight = GgmlTypeTraits.ByteSize(WeightType, 1)!.Value;

    private const int TokenNormal = 1;
    private const int TokenUnknown = 2;
    private const int TokenControl = 3;
    private const int TokenUnused = 5;
    private const int TokenByte = 6;

    private static readonly Vocabulary BaseVocabulary = BuildBaseVocabulary();

    /// <summary>The size of the minimal byte-level vocabulary (what a null <see cref="SyntheticGgufOptions.VocabularySize"/> gives).</summary>
    public static int MinimalVocabularySize => BaseVocabulary.Count;

    /// <summary>Chooses the hyperparameters for <paramref name="options"/> without writing anything.</summary>
    public static SyntheticGgufShape Plan(SyntheticGgufOptions options) => CreateLayout(options).Shape;

    /// <summary>Writes the model to <paramref name="path"/>, replacing any file there, and returns the full path.</summary>
    public static string Write(string path, SyntheticGgufOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var layout = CreateLayout(options);
        string fullPath = Path.GetFullPath(path);
        string? directory = Path.GetDirectoryName(fullPath);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        // Unbuffered (the tensor data goes out in 1 MB chunks anyway): a FileStream buffer would keep the file's last
        // megabyte, whole tensors at their file positions, in freed memory, where the huge-page search could meet them.
        using (var stream = new FileStream(fullPath, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0))
        {
            stream.SetLength(layout.Shape.FileBytes);
            stream.Write(layout.Header);
            WriteTensorData(stream, layout, options.Seed);
        }

        return fullPath;
    }

    /// <summary>Returns the cached model for <paramref name="options"/> in <paramref name="cacheDirectory"/>, writing it first if needed.</summary>
    public static string GetOrCreate(string cacheDirectory, SyntheticGgufOptions options)
    {
        ArgumentException.ThrowIfNullOrEmpty(cacheDirectory);
        var shape = Plan(options);
        Directory.CreateDirectory(cacheDirectory);
        string path = Path.GetFullPath(Path.Combine(cacheDirectory, $"synthetic-{CacheKey(options)}.gguf"));
        if (File.Exists(path) && new FileInfo(path).Length == shape.FileBytes)
        {
            return path;
        }

        // Write aside and rename, so a concurrent reader never sees a half-written file.
        string temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            Write(temporary, options);
            File.Move(temporary, path, overwrite: true);
        }
        catch (IOException) when (File.Exists(path) && new FileInfo(path).Length == shape.FileBytes)
        {
            // Another writer won the race with identical bytes.
        }
        finally
        {
            File.Delete(temporary);
        }

        return path;
    }

    private static string CacheKey(SyntheticGgufOptions options)
    {
        string canonical = string.Join(
            '\n',
            FormatRevision.ToString(CultureInfo.InvariantCulture),
            options.TargetBytes.ToString(CultureInfo.InvariantCulture),
            options.Seed.ToString(CultureInfo.InvariantCulture),
            options.ContextLength.ToString(CultureInfo.InvariantCulture),
            options.VocabularySize?.ToString(CultureInfo.InvariantCulture) ?? "-",
            options.EmbeddingLength?.ToString(CultureInfo.InvariantCulture) ?? "-",
            options.Name,
            options.ChatTemplate is null ? "-" : "+" + options.ChatTemplate);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)))[..16];
    }

    private static Layout CreateLayout(SyntheticGgufOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.TargetBytes, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.TargetBytes, 64L << 30);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ContextLength, 1);
        ArgumentNullException.ThrowIfNull(options.Name);
        if (options.VocabularySize is { } v)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(v, BaseVocabulary.Count, nameof(options.VocabularySize));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(v, 1 << 20, nameof(options.VocabularySize));
        }

        if (options.EmbeddingLength is { } e && (e < 32 || e > 16384 || e % 32 != 0))
        {
            throw new ArgumentOutOfRangeException(nameof(options), e, "EmbeddingLength must be a multiple of 32 from 32 to 16384.");
        }

        var vocab = options.VocabularySize is { } size && size > BaseVocabulary.Count ? BaseVocabulary.PadTo(size) : BaseVocabulary;
        int nVocab = vocab.Count;
        int embd = options.EmbeddingLength ?? ChooseEmbedding(options.TargetBytes, nVocab);
        var dims = new Dims(embd, nVocab);

        // The header size depends on the block count only (values are fixed-width), so fit blocks first
        // with a typical feed-forward width, then fit the width exactly to what remains.
        long defaultFf = Math.Max(1, embd * 8 / 3);
        long budget = (options.TargetBytes - HeaderSize(options, vocab, dims, blocks: 1)) / BytesPerWeight - dims.EmbeddingParams;
        int blocks = (int)Math.Clamp(budget / (dims.AttentionParams + (3L * embd * defaultFf)), 1, 4096);
        budget = (options.TargetBytes - HeaderSize(options, vocab, dims, blocks)) / BytesPerWeight - dims.EmbeddingParams;
        long ff = Math.Clamp((budget - (blocks * dims.AttentionParams)) / (3L * embd * blocks), 1, 1 << 20);

        var tensors = BuildTensors(dims, blocks, (int)ff);
        long offset = 0;
        long parameters = 0;
        foreach (var tensor in tensors)
        {
            tensor.Offset = offset;
            offset += AlignUp(tensor.Bytes);
            parameters += tensor.Elements;
        }

        var shape = new SyntheticGgufShape(
            embd, blocks, (int)ff, dims.Heads, dims.HeadsKv, nVocab, options.ContextLength,
            parameters, parameters * BytesPerWeight, 0);
        byte[] header = BuildHeader(options, vocab, dims, shape, tensors);
        return new Layout(shape with { FileBytes = header.Length + offset }, header, tensors, vocab);
    }

    // The widest embedding (a multiple of 32, then 64, then 128) that still leaves room for four blocks.
    private static int ChooseEmbedding(long targetBytes, int nVocab)
    {
        long parameters = targetBytes / BytesPerWeight;
        int best = 32;
        for (int e = 32; e <= 8192; e += e < 64 ? 32 : e < 256 ? 64 : 128)
        {
            var dims = new Dims(e, nVocab);
            if (dims.EmbeddingParams + (4 * (dims.AttentionParams + (3L * e * (e * 8 / 3)))) <= parameters)
            {
                best = e;
            }
        }

        return best;
    }

    private static long HeaderSize(SyntheticGgufOptions options, Vocabulary vocab, Dims dims, int blocks)
    {
        var tensors = BuildTensors(dims, blocks, ff: 1);
        var shape = new SyntheticGgufShape(dims.Embd, blocks, 1, dims.Heads, dims.HeadsKv, vocab.Count, options.ContextLength, 0, 0, 0);
        return BuildHeader(options, vocab, dims, shape, tensors).Length;
    }

    private static List<TensorSpec> BuildTensors(Dims d, int blocks, int ff)
    {
        float matrix = 1f / MathF.Sqrt(d.Embd);
        var list = new List<TensorSpec>(3 + (blocks * 9))
        {
            new("token_embd.weight", [d.Embd, d.Vocab], TensorKind.Random, 1f),
            new("output_norm.weight", [d.Embd], TensorKind.Ones, 0f),
            new("output.weight", [d.Embd, d.Vocab], TensorKind.Output, matrix),
        };
        for (int i = 0; i < blocks; i++)
        {
            string p = "blk." + i.ToString(CultureInfo.InvariantCulture) + ".";
            list.Add(new(p + "attn_norm.weight", [d.Embd], TensorKind.Ones, 0f));
            list.Add(new(p + "attn_q.weight", [d.Embd, d.Embd], TensorKind.Random, matrix));
            list.Add(new(p + "attn_k.weight", [d.Embd, d.KvDim], TensorKind.Random, matrix));
            list.Add(new(p + "attn_v.weight", [d.Embd, d.KvDim], TensorKind.Random, matrix));
            list.Add(new(p + "attn_output.weight", [d.Embd, d.Embd], TensorKind.Random, matrix));
            list.Add(new(p + "ffn_norm.weight", [d.Embd], TensorKind.Ones, 0f));
            list.Add(new(p + "ffn_gate.weight", [d.Embd, ff], TensorKind.Random, matrix));
            list.Add(new(p + "ffn_up.weight", [d.Embd, ff], TensorKind.Random, matrix));
            list.Add(new(p + "ffn_down.weight", [ff, d.Embd], TensorKind.Random, 1f / MathF.Sqrt(ff)));
        }

        return list;
    }

    private static byte[] BuildHeader(SyntheticGgufOptions options, Vocabulary vocab, Dims d, SyntheticGgufShape shape, List<TensorSpec> tensors)
    {
        var w = new HeaderWriter();
        w.U32(0x46554747); // "GGUF"
        w.U32(GgufVersion);
        w.U64((ulong)tensors.Count);
        long kvCountPosition = w.Length;
        w.U64(0);

        int kvCount = 0;
        void Kv(string key, GgufValueType type)
        {
            w.Str(key);
            w.U32((uint)type);
            kvCount++;
        }

        Kv("general.architecture", GgufValueType.String); w.Str("llama");
        Kv("general.name", GgufValueType.String); w.Str(options.Name);
        Kv("general.file_type", GgufValueType.UInt32); w.U32(0); // ALL_F32
        Kv("general.alignment", GgufValueType.UInt32); w.U32(Alignment);
        Kv("llama.context_length", GgufValueType.UInt32); w.U32((uint)shape.ContextLength);
        Kv("llama.embedding_length", GgufValueType.UInt32); w.U32((uint)d.Embd);
        Kv("llama.block_count", GgufValueType.UInt32); w.U32((uint)shape.BlockCount);
        Kv("llama.feed_forward_length", GgufValueType.UInt32); w.U32((uint)shape.FeedForwardLength);
        Kv("llama.rope.dimension_count", GgufValueType.UInt32); w.U32((uint)d.HeadDim);
        Kv("llama.attention.head_count", GgufValueType.UInt32); w.U32((uint)d.Heads);
        Kv("llama.attention.head_count_kv", GgufValueType.UInt32); w.U32((uint)d.HeadsKv);
        Kv("llama.attention.layer_norm_rms_epsilon", GgufValueType.Float32); w.F32(1e-5f);
        Kv("llama.rope.freq_base", GgufValueType.Float32); w.F32(10000f);
        Kv("llama.vocab_size", GgufValueType.UInt32); w.U32((uint)vocab.Count);
        Kv("tokenizer.ggml.model", GgufValueType.String); w.Str("llama");
        Kv("tokenizer.ggml.tokens", GgufValueType.Array); w.U32((uint)GgufValueType.String); w.U64((ulong)vocab.Count);
        foreach (string token in vocab.Tokens)
        {
            w.Str(token);
        }

        Kv("tokenizer.ggml.scores", GgufValueType.Array); w.U32((uint)GgufValueType.Float32); w.U64((ulong)vocab.Count);
        for (int i = 0; i < vocab.Count; i++)
        {
            w.F32(0f);
        }

        Kv("tokenizer.ggml.token_type", GgufValueType.Array); w.U32((uint)GgufValueType.Int32); w.U64((ulong)vocab.Count);
        foreach (int type in vocab.Types)
        {
            w.U32((uint)type);
        }

        Kv("tokenizer.ggml.bos_token_id", GgufValueType.UInt32); w.U32(1);
        Kv("tokenizer.ggml.eos_token_id", GgufValueType.UInt32); w.U32(2);
        Kv("tokenizer.ggml.unknown_token_id", GgufValueType.UInt32); w.U32(0);
        Kv("tokenizer.ggml.add_bos_token", GgufValueType.Bool); w.U8(1);
        Kv("tokenizer.ggml.add_eos_token", GgufValueType.Bool); w.U8(0);
        if (options.ChatTemplate is { } template)
        {
            Kv("tokenizer.chat_template", GgufValueType.String); w.Str(template);
        }

        foreach (var tensor in tensors)
        {
            w.Str(tensor.Name);
            w.U32((uint)tensor.Dims.Length);
            foreach (long dim in tensor.Dims)
            {
                w.U64((ulong)dim);
            }

            w.U32((uint)WeightType);
            w.U64((ulong)tensor.Offset);
        }

        w.PadToAlignment();
        byte[] bytes = w.ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan((int)kvCountPosition), (ulong)kvCount);
        return bytes;
    }

    private static void WriteTensorData(Stream stream, Layout layout, int seed)
    {
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("The synthetic GGUF writer needs a little-endian machine.");
        }

        var chunk = new float[256 * 1024];
        try
        {
            WriteTensors(stream, layout, seed, chunk);
        }
        finally
        {
            chunk.AsSpan().Clear(); // no copy of the weights left behind in freed memory (see Write)
        }
    }

    private static void WriteTensors(Stream stream, Layout layout, int seed, float[] chunk)
    {
        long written = 0;
        for (int t = 0; t < layout.Tensors.Count; t++)
        {
            var tensor = layout.Tensors[t];
            var random = new Xorshift((ulong)(uint)seed, (ulong)t);
            long rowLength = tensor.Dims[0];
            for (long done = 0; done < tensor.Elements;)
            {
                int n = (int)Math.Min(chunk.Length, tensor.Elements - done);
                var span = chunk.AsSpan(0, n);
                switch (tensor.Kind)
                {
                    case TensorKind.Ones:
                        span.Fill(1f);
                        break;
                    case TensorKind.Random:
                        random.Fill(span, tensor.Scale);
                        break;
                    case TensorKind.Output:
                        random.Fill(span, tensor.Scale);
                        ZeroSilentRows(span, done, rowLength, layout.Vocabulary);
                        break;
                }

                stream.Write(MemoryMarshal.AsBytes(span));
                done += n;
            }

            written += tensor.Bytes;
            long padding = AlignUp(written) - written;
            if (padding > 0)
            {
                stream.Write(new byte[padding]);
                written += padding;
            }
        }
    }

    // Rows of tokens other than '▁' and printable ASCII get zero logits, below the best random one.
    private static void ZeroSilentRows(Span<float> span, long start, long rowLength, Vocabulary vocab)
    {
        for (long i = 0; i < span.Length;)
        {
            long element = start + i;
            long token = element / rowLength;
            long rowEnd = Math.Min(span.Length, ((token + 1) * rowLength) - start);
            if (!vocab.Speaks(token))
            {
                span[(int)i..(int)rowEnd].Clear();
            }

            i = rowEnd;
        }
    }

    private static long AlignUp(long value) => (value + Alignment - 1) / Alignment * Alignment;

    private static Vocabulary BuildBaseVocabulary()
    {
        var tokens = new List<string> { "<unk>", "<s>", "</s>" };
        var types = new List<int> { TokenUnknown, TokenControl, TokenControl };
        for (int b = 0; b < 256; b++)
        {
            tokens.Add($"<0x{b:X2}>");
            types.Add(TokenByte);
        }

        int firstSpoken = tokens.Count;
        tokens.Add("\u2581");
        types.Add(TokenNormal);
        for (char c = '!'; c <= '~'; c++)
        {
            tokens.Add(c.ToString());
            types.Add(TokenNormal);
        }

        int endSpoken = tokens.Count;
        tokens.Add("<|im_start|>");
        types.Add(TokenControl);
        tokens.Add("<|im_end|>");
        types.Add(TokenControl);
        return new Vocabulary(tokens, types, firstSpoken, endSpoken);
    }

    private enum TensorKind
    {
        Ones,
        Random,
        Output,
    }

    private sealed record Layout(SyntheticGgufShape Shape, byte[] Header, List<TensorSpec> Tensors, Vocabulary Vocabulary);

    private sealed class TensorSpec(string name, long[] dims, TensorKind kind, float scale)
    {
        public string Name { get; } = name;

        public long[] Dims { get; } = dims;

        public TensorKind Kind { get; } = kind;

        public float Scale { get; } = scale;

        public long Elements { get; } = dims.Aggregate(1L, (a, b) => a * b);

        public long Bytes => Elements * BytesPerWeight;

        public long Offset { get; set; }
    }

    private readonly record struct Dims(int Embd, int Vocab)
    {
        public int HeadDim => Embd >= 256 ? 64 : Embd >= 64 ? 32 : 16;

        public int Heads => Embd / HeadDim;

        public int HeadsKv => Heads % 2 == 0 ? Heads / 2 : Heads;

        public int KvDim => HeadsKv * HeadDim;

        public long EmbeddingParams => (2L * Vocab * Embd) + Embd;

        public long AttentionParams => (2L * Embd * Embd) + (2L * Embd * KvDim) + (2L * Embd);
    }

    private sealed class Vocabulary(List<string> tokens, List<int> types, int firstSpoken, int endSpoken)
    {
        public List<string> Tokens { get; } = tokens;

        public List<int> Types { get; } = types;

        public int Count => Tokens.Count;

        public bool Speaks(long token) => token >= firstSpoken && token < endSpoken;

        public Vocabulary PadTo(int size)
        {
            var padded = new List<string>(Tokens);
            var paddedTypes = new List<int>(Types);
            for (int i = padded.Count; i < size; i++)
            {
                padded.Add("<unused" + i.ToString(CultureInfo.InvariantCulture) + ">");
                paddedTypes.Add(TokenUnused);
            }

            return new Vocabulary(padded, paddedTypes, firstSpoken, endSpoken);
        }
    }

    // xorshift64* seeded through splitmix64: fast, deterministic across platforms and runtimes.
    private struct Xorshift
    {
        private ulong _state;

        public Xorshift(ulong seed, ulong stream)
        {
            ulong z = seed + (stream * 0x9E3779B97F4A7C15UL) + 0x632BE59BD9B4E019UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            _state = (z ^ (z >> 31)) | 1;
        }

        // Uniform in [-scale, scale).
        public void Fill(Span<float> span, float scale)
        {
            float twice = 2f * scale;
            int i = 0;
            for (; i + 1 < span.Length; i += 2)
            {
                ulong r = Next();
                span[i] = (BitConverter.Int32BitsToSingle(0x3F800000 | (int)(r & 0x7FFFFF)) - 1.5f) * twice;
                span[i + 1] = (BitConverter.Int32BitsToSingle(0x3F800000 | (int)((r >> 32) & 0x7FFFFF)) - 1.5f) * twice;
            }

            if (i < span.Length)
            {
                span[i] = (BitConverter.Int32BitsToSingle(0x3F800000 | (int)(Next() & 0x7FFFFF)) - 1.5f) * twice;
            }
        }

        private ulong Next()
        {
            _state ^= _state >> 12;
            _state ^= _state << 25;
            _state ^= _state >> 27;
            return _state * 0x2545F4914F6CDD1DUL;
        }
    }

    private sealed class HeaderWriter
    {
        private readonly ArrayBufferWriter<byte> _buffer = new(64 * 1024);

        public long Length => _buffer.WrittenCount;

        public void U8(byte value) => Take(1)[0] = value;

        public void U32(uint value) => BinaryPrimitives.WriteUInt32LittleEndian(Take(4), value);

        public void U64(ulong value) => BinaryPrimitives.WriteUInt64LittleEndian(Take(8), value);

        public void F32(float value) => BinaryPrimitives.WriteSingleLittleEndian(Take(4), value);

        public void Str(string value)
        {
            int length = Encoding.UTF8.GetByteCount(value);
            U64((ulong)length);
            Encoding.UTF8.GetBytes(value, Take(length));
        }

        public void PadToAlignment() => Take((int)(AlignUp(Length) - Length)).Clear();

        public byte[] ToArray() => _buffer.WrittenSpan.ToArray();

        private Span<byte> Take(int count)
        {
            var span = _buffer.GetSpan(count)[..count];
            _buffer.Advance(count);
            return span;
        }
    }
}
