namespace ModelManager;

/// <summary>The hyperparameters and sizes <see cref="SyntheticGgufWriter"/> chose for a set of options.</summary>
/// <param name="EmbeddingLength">The embedding width (<c>llama.embedding_length</c>).</param>
/// <param name="BlockCount">The number of transformer blocks.</param>
/// <param name="FeedForwardLength">The feed-forward width.</param>
/// <param name="HeadCount">The number of attention heads.</param>
/// <param name="HeadCountKv">The number of key/value heads.</param>
/// <param name="VocabSize">The number of tokens.</param>
/// <param name="ContextLength">The training context length.</param>
/// <param name="ParameterCount">The number of weights.</param>
/// <param name="TensorBytes">The bytes of tensor data (what llama.cpp reports as the model size).</param>
/// <param name="FileBytes">The exact size of the file that will be written.</param>
public sealed record SyntheticGgufShape(
    int EmbeddingLength,
    int BlockCount,
    int FeedForwardLength,
    int HeadCount,
    int HeadCountKv,
    int VocabSize,
    int ContextLength,
    long ParameterCount,
    long TensorBytes,
    long FileBytes);
