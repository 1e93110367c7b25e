namespace ModelManager;

/// <summary>A model has as many calls as it may hold (<c>max_queue</c>), or a call waited longer than <c>queue_timeout</c> for its first token.</summary>
/// <remarks>Transient: retry after <see cref="RetryAfter"/>. Nothing was generated, and the model keeps serving the calls it holds.</remarks>
public sealed class ModelBusyException(string modelName, int calls, int maxQueue, TimeSpan retryAfter, string message) : Exception(message)
{
    /// <summary>The busy model.</summary>
    public string ModelName { get; } = modelName;

    /// <summary>The calls it held when this one was refused.</summary>
    public int Calls { get; } = calls;

    /// <summary>Its <c>max_queue</c> (0 = no limit, when the call timed out in the queue).</summary>
    public int MaxQueue { get; } = maxQueue;

    /// <summary>A reasonable wait before retrying.</summary>
    public TimeSpan RetryAfter { get; } = retryAfter;
}
