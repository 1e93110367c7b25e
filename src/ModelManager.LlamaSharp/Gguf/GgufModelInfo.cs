namespace ModelManager;

/// <summary>What a GGUF file says about its model: hyperparameters, tokenizer facts and tensor sizes.</summary>
/// <remarks>Immutable once read; <see cref="GgufReader.Read(string)"/> has validated every field against the file.</remarks>
internal sealed class GgufModelInfo
{
    /// <summary>The file that was read.</summary>
    public required string FilePath { get; init; }

    /// <summary>The file's length in bytes.</summary>
    public required long FileSize { get; init; }

    /// <summary>The GGUF format version (2 or 3).</summary>
    public required uint Version { get; init; }

    /// <summary>The data alignment (<c>general.alignment</c>, default 32).</summary>
    public required int Alignment { get; init; }

    /// <summary>The file offset at which the tensor data section starts.</summary>
    public required long DataOffset { get; init; }

    /// <summary>The architecture (<c>general.architecture</c>), e.g. <c>llama</c>.</summary>
    public required string Architecture { get; init; }

    /// <summary>The model's name (<c>general.name</c>), or empty.</summary>
    public string Name { get; init; } = "";

    /// <summary>The training context length (<c>{arch}.context_length</c>), or 0 when absent.</summary>
    public long ContextLength { get; init; }

    /// <summary>The number of transformer blocks (<c>{arch}.block_count</c>), or 0 when absent.</summary>
    public long BlockCount { get; init; }

    /// <summary>The embedding width (<c>{arch}.embedding_length</c>), or 0 when absent.</summary>
    public long EmbeddingLength { get; init; }

    /// <summary>The feed-forward width (<c>{arch}.feed_forward_length</c>, the largest when per layer), or 0 when absent.</summary>
    public long FeedForwardLength { get; init; }

    /// <summary>The number of attention heads (the largest when per layer), or 0 when absent.</summary>
    public long HeadCount { get; init; }

    /// <summary>The number of key/value heads (the largest when per layer); defaults to <see cref="HeadCount"/>.</summary>
    public long HeadCountKv { get; init; }

    /// <summary>The width of one key head (<c>{arch}.attention.key_length</c>); defaults to embedding / heads.</summary>
    public long KeyLength { get; init; }

    /// <summary>The width of one value head (<c>{arch}.attention.value_length</c>); defaults to embedding / heads.</summary>
    public long ValueLength { get; init; }

    /// <summary>The vocabulary size (the count of <c>tokenizer.ggml.tokens</c>), or 0 when unknown.</summary>
    public long VocabSize { get; init; }

    /// <summary>The number of BPE merges (the count of <c>tokenizer.ggml.merges</c>), or 0 when absent.</summary>
    public long MergeCount { get; init; }

    /// <summary>
    /// The longest token text of <c>tokenizer.ggml.tokens</c> in UTF-8 bytes, or 0 when there is none. An upper bound of any
    /// token's decoded piece: llama.cpp's decoding only shortens a token's text (<c>▁</c> to a space, byte tokens like
    /// <c>&lt;0x0A&gt;</c> to one byte, GPT-2's byte-to-character map back to bytes) or copies it (special tokens).
    /// </summary>
    public int LongestTokenBytes { get; init; }

    /// <summary>The tokenizer model (<c>tokenizer.ggml.model</c>), e.g. <c>llama</c> or <c>gpt2</c>, or empty.</summary>
    public string TokenizerModel { get; init; } = "";

    /// <summary>The default chat template (<c>tokenizer.chat_template</c>), or null when the file has none.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>The beginning-of-sequence token id, or null when the file does not say.</summary>
    public long? BosTokenId { get; init; }

    /// <summary>The end-of-sequence token id, or null when the file does not say.</summary>
    public long? EosTokenId { get; init; }

    /// <summary>The number of tensors.</summary>
    public int TensorCount => Tensors.Count;

    /// <summary>The sum of the tensors' data sizes, without alignment padding (llama.cpp's model size).</summary>
    public required long TensorBytes { get; init; }

    /// <summary>The tensor table in file order.</summary>
    public required IReadOnlyList<GgufTensorInfo> Tensors { get; init; }

    /// <summary>Every scalar metadata value as an invariant string, for diagnostics; arrays are left out.</summary>
    public required IReadOnlyDictionary<string, string> Metadata { get; init; }
}
