namespace ModelManager;

/// <summary>A loaded model cannot serve calls any more (a remote model whose endpoints are all down, say).</summary>
/// <remarks>
/// Backends throw it (or a subtype) from a call before any output. When <see cref="ShouldFailOver"/> is true and the model has
/// fallbacks, the manager unloads the model and retries the call once through the chain, so the fallbacks answer as if its
/// load had failed; without fallbacks the exception reaches the caller.
/// </remarks>
/// <param name="modelName">The model that cannot serve.</param>
/// <param name="message">Why, naming the model.</param>
/// <param name="innerException">The underlying error.</param>
public class ModelUnavailableException(string modelName, string message, Exception? innerException = null) : Exception(message, innerException)
{
    /// <summary>The model that cannot serve.</summary>
    public string ModelName { get; } = modelName;

    /// <summary>Whether the manager should unload the model and let its fallbacks serve the call. Default true.</summary>
    public virtual bool ShouldFailOver => true;
}
