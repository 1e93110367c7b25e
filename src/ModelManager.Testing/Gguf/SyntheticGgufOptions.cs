namespace ModelManager;

/// <summary>What <see cref="SyntheticGgufWriter"/> should write: size, seed, context and chat template.</summary>
public sealed record SyntheticGgufOptions
{
    /// <summary>The approximate file size in bytes, met within 1% from 1 MB to 1 GB (below ~200 KB the smallest model is ~115 KB). Default 1,000,000.</summary>
    public long TargetBytes { get; init; } = 1_000_000;

    /// <summary>The seed of the pseudo-random weights; the same options give a byte-identical file. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>The training context length written as <c>llama.context_length</c>. Default 512.</summary>
    public int ContextLength { get; init; } = 512;

    /// <summary>The chat template written as <c>tokenizer.chat_template</c>, or null for none. Default null.</summary>
    public string? ChatTemplate { get; init; }

    /// <summary>The vocabulary size, padded with unreachable filler tokens; null (the default) keeps the minimal byte-level vocabulary.</summary>
    public int? VocabularySize { get; init; }

    /// <summary>The embedding width; null (the default) chooses one from <see cref="TargetBytes"/>.</summary>
    public int? EmbeddingLength { get; init; }

    /// <summary>The model name written as <c>general.name</c>. Default "synthetic".</summary>
    public string Name { get; init; } = "synthetic";
}
