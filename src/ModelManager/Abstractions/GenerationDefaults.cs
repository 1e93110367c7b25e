namespace ModelManager;

/// <summary>The defaults every backend applies when neither the call nor the model's <c>parameters</c> set a value.</summary>
public static class GenerationDefaults
{
    /// <summary>Most tokens one call generates when no <c>max_tokens</c> is set: 256.</summary>
    public const int MaxTokens = 256;
}
