namespace ModelManager;

/// <summary>A prompt does not fit the model's context (<c>context_length</c>), measured in tokens or, before tokenizing, in bytes.</summary>
/// <remarks>Raised before any native call; the model stays loaded and serves other callers.</remarks>
public sealed class ContextLengthExceededException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="modelName">The model.</param>
    /// <param name="contextLength">Tokens one request may hold.</param>
    /// <param name="promptTokens">The prompt's tokens, or null when it was refused by its size before tokenizing.</param>
    /// <param name="message">What happened and what to do.</param>
    public ContextLengthExceededException(string modelName, int contextLength, int? promptTokens, string message)
        : base(message)
    {
        ModelName = modelName;
        ContextLength = contextLength;
        PromptTokens = promptTokens;
    }

    /// <summary>The model whose context was exceeded.</summary>
    public string ModelName { get; }

    /// <summary>Tokens one request may hold (prompt and generated).</summary>
    public int ContextLength { get; }

    /// <summary>The prompt's tokens; null when the prompt was refused by its size before it was tokenized.</summary>
    public int? PromptTokens { get; }
}
