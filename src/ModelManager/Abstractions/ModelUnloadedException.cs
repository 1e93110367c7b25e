namespace ModelManager;

/// <summary>A call was cut short because its model was force-unloaded (or the manager shut down) while it ran.</summary>
public sealed class ModelUnloadedException : InvalidOperationException
{
    /// <summary>Creates the exception for <paramref name="modelName"/>.</summary>
    public ModelUnloadedException(string modelName, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ModelName = modelName;
    }

    /// <summary>The model that was unloaded.</summary>
    public string ModelName { get; }
}
