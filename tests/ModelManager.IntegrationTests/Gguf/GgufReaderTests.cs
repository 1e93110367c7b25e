using LLama;
using LLama.Common;

namespace ModelManager.IntegrationTests;

public sealed class GgufReaderTests
{
    private const string Stories = "stories260K/stories260K.gguf";

    [SharedModelFact(Stories)]
    public void Read_Stories260K_ReturnsItsPublishedHyperparameters()
    {
        var info = GgufReader.Read(SharedModels.Stories260K);

        Assert.Equal(3u, info.Version);
        Assert.Equal("llama", info.Architecture);
        Assert.Equal(5, info.BlockCount);
        Assert.Equal(64, info.EmbeddingLength);
        Assert.Equal(172, info.FeedForwardLength);
        Assert.Equal(8, info.HeadCount);
        Assert.Equal(4, info.HeadCountKv);
        Assert.Equal(8, info.KeyLength);
        Assert.Equal(8, info.ValueLength);
        Assert.Equal(512, info.ContextLength);
        Assert.Equal(512, info.VocabSize);
        Assert.Equal("llama", info.TokenizerModel);
        Assert.Equal(1, info.BosTokenId);
        Assert.Equal(2, info.EosTokenId);
        Assert.Null(info.ChatTemplate);
        Assert.Equal(32, info.Alignment);
        Assert.Equal(new FileInfo(SharedModels.Stories260K).Length, info.FileSize);

        // All tensors are F32: 292,800 parameters. (The 488,704 in BACKENDS.md belongs to a different 0.5 MB test model.)
        Assert.Equal(1_171_200, info.TensorBytes);
        Assert.All(info.Tensors, t => Assert.Equal(GgmlType.F32, t.Type));
        Assert.Equal(info.TensorBytes, info.Tensors.Sum(t => t.ElementCount) * 4);
        Assert.Equal("llama", info.Metadata["general.architecture"]);
        Assert.DoesNotContain("tokenizer.ggml.tokens", info.Metadata.Keys);
    }

    [SharedModelFact(Stories)]
    public void Read_Stories260K_AgreesWithLlamaSharp()
    {
        string path = SharedModels.Stories260K;
        var info = GgufReader.Read(path);

        using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { GpuLayerCount = 0 });

        Assert.Equal((ulong)info.TensorBytes, weights.SizeInBytes);
        Assert.Equal((ulong)info.Tensors.Sum(t => t.ElementCount), weights.ParameterCount);
        Assert.Equal(info.BlockCount, weights.NativeHandle.LayerCount);
        Assert.Equal(info.HeadCount, weights.NativeHandle.HeadCount);
        Assert.Equal(info.EmbeddingLength, weights.EmbeddingSize);
        Assert.Equal(info.ContextLength, weights.ContextSize);
        Assert.Equal(info.VocabSize, weights.Vocab.Count);

        // Both leave arrays out of the scalar metadata, so the key sets must match exactly.
        Assert.Equal(weights.Metadata.Keys.Order(StringComparer.Ordinal), info.Metadata.Keys.Order(StringComparer.Ordinal));
        foreach (string key in new[] { "general.architecture", "llama.block_count", "llama.context_length", "tokenizer.ggml.model", "tokenizer.ggml.bos_token_id" })
        {
            Assert.Equal(weights.Metadata[key], info.Metadata[key]);
        }
    }

    [Fact]
    public void Read_TokenList_GivesItsLongestTokenInUtf8Bytes()
    {
        string[] tokens = ["<unk>", "a", "h\u00e9llo", "\u2581\u2581abc", "<0x0A>"]; // 5, 1, 6, 9 and 6 bytes
        var withTokens = Read(GgufBuilder.Llama().Array("tokenizer.ggml.tokens", 8, tokens.Length, (w, i) => GgufBuilder.WriteString(w, tokens[i])).Build());
        var without = Read(GgufBuilder.Llama().Build());

        Assert.Equal(9, withTokens.LongestTokenBytes);
        Assert.Equal(0, without.LongestTokenBytes);
    }

    [SharedModelFact(Stories)]
    public void LongestTokenBytes_BoundsEveryPieceLlamaCppDecodes_Stories260KAndASyntheticVocabulary()
    {
        foreach (var path in new[] { SharedModels.Stories260K, TestCache.Model(new SyntheticGgufOptions { TargetBytes = 8_000_000, Seed = 35, VocabularySize = 4096 }) })
        {
            var info = GgufReader.Read(path);
            using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { GpuLayerCount = 0 });
            var longestPiece = 0;
            var piece = new byte[1024];
            for (var t = 0; t < weights.Vocab.Count; t++)
            {
                longestPiece = Math.Max(longestPiece, (int)weights.NativeHandle.TokenToSpan((LLama.Native.LLamaToken)t, piece, special: true));
            }

            // The prompt-size gate divides by this bound: an overestimate only lets a few more bytes reach the tokenizer, an underestimate would refuse prompts that fit.
            Assert.InRange(info.LongestTokenBytes, longestPiece, longestPiece + 8);
        }
    }

    [Fact]
    public void Read_EveryValueTypeAndNestedArrays_KeepsScalarsAsInvariantStrings()
    {
        byte[] file = GgufBuilder.Llama()
            .Add("t.u8", 0, w => w.Write((byte)200))
            .Add("t.i8", 1, w => w.Write((sbyte)-5))
            .Add("t.u16", 2, w => w.Write((ushort)60000))
            .Add("t.i16", 3, w => w.Write((short)-300))
            .Add("t.u32", 4, w => w.Write(4_000_000_000u))
            .Add("t.i32", 5, w => w.Write(-70000))
            .Add("t.f32", 6, w => w.Write(1.5f))
            .Add("t.bool", 7, w => w.Write((byte)1))
            .Add("t.u64", 10, w => w.Write(ulong.MaxValue))
            .Add("t.i64", 11, w => w.Write(long.MinValue))
            .Add("t.f64", 12, w => w.Write(-0.25))
            .String("t.string", "héllo")
            .Array("t.floats", 6, 3, (w, i) => w.Write(i * 0.5f))
            .Array("t.strings", 8, 2, (w, i) => GgufBuilder.WriteString(w, "s" + i))
            .Array("t.nested", 9, 2, (w, i) =>
            {
                w.Write(4u); // inner arrays of u32
                w.Write(3UL);
                w.Write(1u);
                w.Write(2u);
                w.Write(3u);
            })
            .Array("t.empty", 12, 0, (_, _) => { })
            .Build();

        var info = Read(file);

        (string Key, string Value)[] scalars =
        [
            ("t.u8", "200"), ("t.i8", "-5"), ("t.u16", "60000"), ("t.i16", "-300"),
            ("t.u32", "4000000000"), ("t.i32", "-70000"), ("t.f32", "1.5"), ("t.bool", "true"),
            ("t.u64", "18446744073709551615"), ("t.i64", "-9223372036854775808"), ("t.f64", "-0.25"), ("t.string", "héllo"),
        ];
        Assert.All(scalars, s => Assert.Equal(s.Value, info.Metadata[s.Key]));
        Assert.DoesNotContain("t.nested", info.Metadata.Keys);
        Assert.DoesNotContain("t.strings", info.Metadata.Keys);
        Assert.Equal(0, info.TensorCount);
    }

    [Fact]
    public void Read_ArraysNestedTooDeep_AreRejected()
    {
        byte[] file = GgufBuilder.Llama().Add("t.deep", 9, w =>
        {
            for (int i = 0; i < 9; i++)
            {
                w.Write(9u);
                w.Write(1UL);
            }

            w.Write(4u);
            w.Write(0UL);
        }).Build();

        var ex = Assert.Throws<ModelFormatException>(() => Read(file));
        Assert.Contains("deeper", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Read_PerLayerHeadCounts_TakesTheLargest()
    {
        byte[] file = GgufBuilder.Llama()
            .Array("llama.attention.head_count_kv", 5, 3, (w, i) => w.Write(new[] { 4, 8, 2 }[i]))
            .Array("llama.feed_forward_length", 4, 2, (w, i) => w.Write(new[] { 100u, 300u }[i]))
            .Build();

        var info = Read(file);

        Assert.Equal(8, info.HeadCount);
        Assert.Equal(8, info.HeadCountKv);
        Assert.Equal(300, info.FeedForwardLength);
        Assert.Equal(8, info.KeyLength);
    }

    [Fact]
    public void Read_Version2WithoutOptionalKeys_UsesDefaults()
    {
        byte[] file = new GgufBuilder { Version = 2 }.String("general.architecture", "gpt2").Build();

        var info = Read(file);

        Assert.Equal(2u, info.Version);
        Assert.Equal("gpt2", info.Architecture);
        Assert.Equal(0, info.BlockCount);
        Assert.Equal(0, info.HeadCountKv);
        Assert.Equal(0, info.VocabSize);
        Assert.Null(info.ChatTemplate);
        Assert.Null(info.BosTokenId);
        Assert.Equal(GgufReader.DefaultAlignment, info.Alignment);
    }

    [Fact]
    public void Read_QuantizedTensorsAndCustomAlignment_SizesFromBlockGeometry()
    {
        byte[] file = new GgufBuilder { Alignment = 64 }
            .String("general.architecture", "llama")
            .U32("general.alignment", 64)
            .Tensor("a", (uint)GgmlType.Q4_0, 2 * 2 * 18, 64, 2)
            .Tensor("b", (uint)GgmlType.Q4_K, 144, 256)
            .Tensor("c", (uint)GgmlType.F16, 2 * 3 * 5 * 7 * 2, 2, 3, 5, 7)
            .Tensor("d", (uint)GgmlType.IQ2_XXS, 3 * 66, 256, 3)
            .Tensor("e", (uint)GgmlType.MXFP4, 17, 32)
            .Build();

        var info = Read(file);

        Assert.Equal(64, info.Alignment);
        Assert.Equal(0, info.DataOffset % 64);
        Assert.Equal(new long[] { 72, 144, 420, 198, 17 }, info.Tensors.Select(t => t.ByteSize));
        Assert.Equal(new long[] { 0, 128, 320, 768, 1024 }, info.Tensors.Select(t => t.Offset));
        Assert.Equal(72 + 144 + 420 + 198 + 17, info.TensorBytes);
        Assert.Equal(new long[] { 2, 3, 5, 7 }, info.Tensors[2].Dimensions);
    }

    // Metadata that llama.cpp does not reject but asserts on (aborting the process: seen with LLamaSharp 0.30.0 for
    // tokens-not-strings, scores-strings and the expert cases) or reads past the end of (scores-short, token types of bytes).
    public static TheoryData<string, string> LlamaCppAbortCases => new()
    {
        { "tokens-not-strings", "tokenizer.ggml.tokens must be an array of String" },
        { "scores-short", "has 2 elements but the vocabulary has 3 tokens" },
        { "scores-strings", "tokenizer.ggml.scores must be an array of Float32" },
        { "token-types-wrong-type", "tokenizer.ggml.token_type must be an array of Int32" },
        { "merges-not-strings", "tokenizer.ggml.merges must be an array of String" },
        { "too-many-experts", "llama.expert_count 600 exceeds" },
        { "more-used-than-experts", "llama.expert_used_count 9 exceeds" },
        { "experts-none-used", "needs a non-zero expert_used_count" },
        { "used-without-experts", "llama.expert_used_count 2 exceeds expert_count 0" },
    };

    [Theory]
    [MemberData(nameof(LlamaCppAbortCases))]
    public void Read_MetadataThatWouldAbortLlamaCpp_IsRejected(string name, string message)
    {
        var builder = GgufBuilder.Llama();
        void Tokens() => builder.Array("tokenizer.ggml.tokens", 8, 3, (w, i) => GgufBuilder.WriteString(w, "t" + i));
        switch (name)
        {
            case "tokens-not-strings": builder.Array("tokenizer.ggml.tokens", 4, 3, (w, i) => w.Write((uint)i)); break;
            case "scores-short": Tokens(); builder.Array("tokenizer.ggml.scores", 6, 2, (w, _) => w.Write(0f)); break;
            case "scores-strings": builder.Array("tokenizer.ggml.scores", 8, 1, (w, _) => GgufBuilder.WriteString(w, "s")); break;
            case "token-types-wrong-type": Tokens(); builder.Array("tokenizer.ggml.token_type", 0, 3, (w, _) => w.Write((byte)1)); break;
            case "merges-not-strings": Tokens(); builder.U32("tokenizer.ggml.merges", 1); break;
            case "too-many-experts": builder.U32("llama.expert_count", 600).U32("llama.expert_used_count", 2); break;
            case "more-used-than-experts": builder.U32("llama.expert_count", 8).U32("llama.expert_used_count", 9); break;
            case "experts-none-used": builder.U32("llama.expert_count", 8); break;
            case "used-without-experts": builder.U32("llama.expert_used_count", 2); break;
        }

        var ex = Assert.Throws<ModelFormatException>(() => Read(builder.Build()));

        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
        Assert.NotNull(ex.Offset);
    }

    [Fact]
    public void Read_ConsistentExpertsAndTokenizer_AreAccepted()
    {
        byte[] file = GgufBuilder.Llama()
            .U32("llama.expert_count", 8)
            .U32("llama.expert_used_count", 2)
            .Array("tokenizer.ggml.tokens", 8, 3, (w, i) => GgufBuilder.WriteString(w, "t" + i))
            .Array("tokenizer.ggml.scores", 6, 3, (w, _) => w.Write(0f))
            .Array("tokenizer.ggml.token_type", 5, 3, (w, _) => w.Write(1))
            .Array("tokenizer.ggml.merges", 8, 1, (w, _) => GgufBuilder.WriteString(w, "t0 t1"))
            .Build();

        var info = Read(file);

        Assert.Equal(3, info.VocabSize);
        Assert.Equal(1, info.MergeCount);
    }

    [Fact]
    public void Read_SyntheticModel_MatchesTheWritersPlan()
    {
        var options = new SyntheticGgufOptions { TargetBytes = 300_000, Seed = 3, ContextLength = 1024, VocabularySize = 1000 };
        var shape = SyntheticGgufWriter.Plan(options);

        var info = GgufReader.Read(TestCache.Model(options));

        Assert.Equal(shape.FileBytes, info.FileSize);
        Assert.Equal(shape.TensorBytes, info.TensorBytes);
        Assert.Equal(shape.BlockCount, info.BlockCount);
        Assert.Equal(1000, info.VocabSize);
        Assert.Equal(1024, info.ContextLength);
    }

    private static GgufModelInfo Read(byte[] file)
    {
        using var stream = new MemoryStream(file, writable: false);
        return GgufReader.Read(stream, "built.gguf");
    }
}
