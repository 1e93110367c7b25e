namespace ModelManager;

/// <content>The model description, and the metadata checks that keep llama.cpp from aborting.</content>
internal static partial class GgufReader
{
    private static GgufModelInfo BuildInfo(
        GgufByteReader r, uint version, int alignment, long dataOffset, long tensorBytes,
        Dictionary<string, MetadataValue> kvs, List<TensorEntry> tensors)
    {
        string architecture = GetString(r, kvs, "general.architecture")
            ?? throw r.Error("general.architecture is missing", HeaderSize);
        if (architecture.Length == 0)
        {
            throw r.Error("general.architecture is empty", kvs["general.architecture"].Offset);
        }

        string a = architecture + ".";
        ValidateTokenizer(r, kvs);
        ValidateExperts(r, kvs, a);
        ValidateAttention(r, kvs, a, tensors);
        long embd = GetInteger(r, kvs, a + "embedding_length") ?? 0;
        long heads = GetInteger(r, kvs, a + "attention.head_count") ?? 0;
        long headDim = heads > 0 ? embd / heads : 0;
        long vocab = GetArrayCount(kvs, "tokenizer.ggml.tokens")
            ?? GetInteger(r, kvs, a + "vocab_size")
            ?? (tensors.Find(t => t.Tensor.Name == "token_embd.weight").Tensor?.Dimensions is { Length: >= 2 } embdDims ? embdDims[1] : 0);

        var metadata = new Dictionary<string, string>(kvs.Count, StringComparer.Ordinal);
        foreach (var (key, kv) in kvs)
        {
            if (kv.Scalar is { } scalar)
            {
                metadata[key] = FormatScalar(scalar);
            }
        }

        return new GgufModelInfo
        {
            FilePath = r.FilePath,
            FileSize = r.Length,
            Version = version,
            Alignment = alignment,
            DataOffset = dataOffset,
            Architecture = architecture,
            Name = GetString(r, kvs, "general.name") ?? "",
            ContextLength = GetInteger(r, kvs, a + "context_length") ?? 0,
            BlockCount = GetInteger(r, kvs, a + "block_count") ?? 0,
            EmbeddingLength = embd,
            FeedForwardLength = GetInteger(r, kvs, a + "feed_forward_length") ?? 0,
            HeadCount = heads,
            HeadCountKv = GetInteger(r, kvs, a + "attention.head_count_kv") ?? heads,
            KeyLength = GetInteger(r, kvs, a + "attention.key_length") ?? headDim,
            ValueLength = GetInteger(r, kvs, a + "attention.value_length") ?? headDim,
            VocabSize = vocab,
            MergeCount = GetArrayCount(kvs, "tokenizer.ggml.merges") ?? 0,
            LongestTokenBytes = kvs.TryGetValue("tokenizer.ggml.tokens", out var tokens) && tokens is { Type: GgufValueType.Array, ElementType: GgufValueType.String } ? tokens.LongestString : 0,
            TokenizerModel = GetString(r, kvs, "tokenizer.ggml.model") ?? "",
            ChatTemplate = GetString(r, kvs, "tokenizer.chat_template"),
            BosTokenId = GetInteger(r, kvs, "tokenizer.ggml.bos_token_id"),
            EosTokenId = GetInteger(r, kvs, "tokenizer.ggml.eos_token_id"),
            TensorBytes = tensorBytes,
            Tensors = tensors.ConvertAll(t => t.Tensor),
            Metadata = metadata,
        };
    }

    // llama.cpp fetches these arrays behind GGML_ASSERTs on their types (a token list that is not strings, or
    // string scores, abort the process: seen with LLamaSharp 0.30.0), then reads scores and token types as raw
    // float/int32 arrays of the vocabulary's length, out of bounds when they are shorter.
    private static void ValidateTokenizer(GgufByteReader r, Dictionary<string, MetadataValue> kvs)
    {
        long? tokens = null;
        if (kvs.TryGetValue("tokenizer.ggml.tokens", out var list))
        {
            RequireArray(r, "tokenizer.ggml.tokens", list, null, GgufValueType.String);
            tokens = list.Count;
        }

        if (kvs.TryGetValue("tokenizer.ggml.scores", out var scores))
        {
            RequireArray(r, "tokenizer.ggml.scores", scores, tokens, GgufValueType.Float32);
        }

        if (kvs.TryGetValue("tokenizer.ggml.token_type", out var types))
        {
            RequireArray(r, "tokenizer.ggml.token_type", types, tokens, GgufValueType.Int32, GgufValueType.UInt32);
        }

        if (kvs.TryGetValue("tokenizer.ggml.merges", out var merges))
        {
            RequireArray(r, "tokenizer.ggml.merges", merges, null, GgufValueType.String);
        }
    }

    private static void RequireArray(GgufByteReader r, string key, MetadataValue kv, long? count, params GgufValueType[] elementTypes)
    {
        if (kv.Type != GgufValueType.Array || Array.IndexOf(elementTypes, kv.ElementType) < 0)
        {
            throw r.Error($"{key} must be an array of {string.Join(" or ", elementTypes)} but is {Describe(kv)}", kv.Offset);
        }

        if (count is { } expected && kv.Count != expected)
        {
            throw r.Error($"{key} has {kv.Count} elements but the vocabulary has {expected} tokens", kv.Offset);
        }
    }

    // llama.cpp asserts on these while loading hyperparameters (used > experts, or experts with none used,
    // abort the process: seen with LLamaSharp 0.30.0).
    private static void ValidateExperts(GgufByteReader r, Dictionary<string, MetadataValue> kvs, string prefix)
    {
        const long MaxExperts = 512; // LLAMA_MAX_EXPERTS
        long experts = GetInteger(r, kvs, prefix + "expert_count") ?? 0;
        long used = GetInteger(r, kvs, prefix + "expert_used_count") ?? 0;
        long groups = GetInteger(r, kvs, prefix + "expert_group_count") ?? 0;
        long groupsUsed = GetInteger(r, kvs, prefix + "expert_group_used_count") ?? 0;
        (string Key, string Problem)? failure =
            experts > MaxExperts ? ("expert_count", $"{experts} exceeds llama.cpp's limit of {MaxExperts}")
            : used > experts ? ("expert_used_count", $"{used} exceeds expert_count {experts}")
            : experts > 0 && used == 0 ? ("expert_count", $"{experts} needs a non-zero expert_used_count")
            : experts > 0 && groups >= experts ? ("expert_group_count", $"{groups} is not below expert_count {experts}")
            : experts > 0 && groups > 1 && (experts % groups != 0 || groupsUsed == 0 || groupsUsed >= groups)
                ? ("expert_group_count", $"{groups} groups with {groupsUsed} used do not fit {experts} experts")
            : experts == 0 && groups != 0 ? ("expert_group_count", $"{groups} without experts")
            : null;
        if (failure is { } f)
        {
            throw r.Error($"{prefix}{f.Key} {f.Problem}", kvs[prefix + f.Key].Offset);
        }
    }

    // llama.cpp refuses these hyperparameters with a bare "failed to load model", or divides by them; name the key instead.
    // Only for attention models (the architecture declares attention.head_count): recurrent ones have no heads.
    private static void ValidateAttention(GgufByteReader r, Dictionary<string, MetadataValue> kvs, string prefix, List<TensorEntry> tensors)
    {
        if (!kvs.ContainsKey(prefix + "attention.head_count"))
        {
            return;
        }

        long heads = GetInteger(r, kvs, prefix + "attention.head_count") ?? 0;
        long kvHeads = GetInteger(r, kvs, prefix + "attention.head_count_kv") ?? heads;
        long embd = GetInteger(r, kvs, prefix + "embedding_length") ?? 0;
        long? keyLength = GetInteger(r, kvs, prefix + "attention.key_length");
        long? rope = GetInteger(r, kvs, prefix + "rope.dimension_count");
        long? ff = GetInteger(r, kvs, prefix + "feed_forward_length");
        long? blocks = GetInteger(r, kvs, prefix + "block_count");
        long headSize = keyLength ?? (heads > 0 ? embd / heads : 0);
        var layers = new HashSet<long>();
        foreach (var t in tensors)
        {
            var name = t.Tensor.Name;
            var dot = name.IndexOf('.', 4);
            if (name.StartsWith("blk.", StringComparison.Ordinal) && dot > 4 && long.TryParse(name.AsSpan(4, dot - 4), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var layer))
            {
                layers.Add(layer);
            }
        }

        (string Key, string Problem)? failure =
            heads == 0 ? ("attention.head_count", "is 0")
            : kvHeads == 0 ? ("attention.head_count_kv", "is 0")
            : heads % kvHeads != 0 ? ("attention.head_count_kv", $"{kvHeads} does not divide head_count {heads}")
            : keyLength is null && embd > 0 && embd % heads != 0 ? ("embedding_length", $"{embd} is not a multiple of head_count {heads}")
            : rope is { } r2 && headSize > 0 && r2 > headSize ? ("rope.dimension_count", $"{r2} exceeds the head size {headSize}")
            : ff == 0 ? ("feed_forward_length", "is 0")
            : blocks is { } b && layers.Count > 0 && b != layers.Count ? ("block_count", $"is {b} but the tensors hold {layers.Count} layers")
            : null;
        if (failure is { } f)
        {
            throw r.Error($"{prefix}{f.Key} {f.Problem}", kvs[prefix + f.Key].Offset);
        }
    }

    private static string? GetString(GgufByteReader r, Dictionary<string, MetadataValue> kvs, string key)
    {
        if (!kvs.TryGetValue(key, out var kv))
        {
            return null;
        }

        return kv.Scalar as string ?? throw r.Error($"metadata '{key}' must be a string but is {Describe(kv)}", kv.Offset);
    }

    // Accepts any integer type, and the largest element of a per-layer integer array.
    private static long? GetInteger(GgufByteReader r, Dictionary<string, MetadataValue> kvs, string key)
    {
        if (!kvs.TryGetValue(key, out var kv))
        {
            return null;
        }

        long v;
        if (kv.Type == GgufValueType.Array && IsInteger(kv.ElementType))
        {
            // Empty, or too long to be a per-layer array: treat as absent.
            if (kv.IntegerMax is not { } max)
            {
                return null;
            }

            v = max;
        }
        else if (IsInteger(kv.Type))
        {
            v = ToInt64(kv.Scalar!);
        }
        else
        {
            throw r.Error($"metadata '{key}' must be an integer but is {Describe(kv)}", kv.Offset);
        }

        if (v < 0)
        {
            throw r.Error($"metadata '{key}' is negative ({v})", kv.Offset);
        }

        return v;
    }
}
