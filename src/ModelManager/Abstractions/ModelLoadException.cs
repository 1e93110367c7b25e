namespace ModelManager;

/// <summary>A model could not be loaded; names the model and wraps the backend's error.</summary>
/// <param name="modelName">The model that failed to load.</param>
/// <param name="message">What went wrong, naming the model and the file or setting.</param>
/// <param name="innerException">The backend's error.</param>
public class ModelLoadException(string modelName, string message, Exception? innerException = null) : Exception(message, innerException)
{
    /// <summary>The managed model that failed to load (may be empty when a backend throws before it knows it).</summary>
    public string ModelName { get; } = modelName;
}
