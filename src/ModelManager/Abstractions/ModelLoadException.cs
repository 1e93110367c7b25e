namespace ModelManager;

/// <summary>A model could not be loaded; names the model and wraps the backend's error.</summary>
public class ModelLoadException : Exception
{
    /// <summary>Creates the exception for <paramref name="modelName"/>.</summary>
    public ModelLoadException(string modelName, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ModelName = modelName;
    }

    /// <summary>The managed model that failed to load (may be empty when a backend throws before it knows it).</summary>
    public string ModelName { get; }
}
