namespace ModelManager;

/// <summary>A loaded model cannot serve calls any more (a remote model whose endpoints are all down, say).</summary>
/// <remarks>
/// Backends throw it (or a subtype) from a call before any output. When <see cref="ShouldFailOver"/> is true and the model has
/// fallbacks, the manager unloads the model and retries the call once through the chain, so the fallbacks answer as if its
/// load had failed; without fallbacks the exception reaches the caller.
/// </remarks>
public class ModelUnavailableException : Exception
{
    /// <summary>Creates the exception for <paramref name="modelName"/>.</summary>
    public ModelUnavailableException(string modelName, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ModelName = modelName;
    }

    /// <summary>The model that cannot serve.</summary>
    public string ModelName { get; }

    /// <summary>Whether the manager should unload the model and let its fallbacks serve the call. Default true.</summary>
    public virtual bool ShouldFailOver => true;
}
