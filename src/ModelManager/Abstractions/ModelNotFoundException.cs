namespace ModelManager;

/// <summary>No model or agent with the requested name is configured.</summary>
public sealed class ModelNotFoundException : ArgumentException
{
    /// <summary>Creates the exception for <paramref name="modelName"/>.</summary>
    public ModelNotFoundException(string modelName, string message)
        : base(message, "name")
    {
        ModelName = modelName;
    }

    /// <summary>The name that was asked for.</summary>
    public string ModelName { get; }
}
