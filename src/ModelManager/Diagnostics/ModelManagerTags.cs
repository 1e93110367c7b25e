namespace ModelManager;

/// <summary>Names of the manager's meter, activity source, instruments and tags, in one place.</summary>
public static class ModelManagerTags
{
    /// <summary>The name of the <see cref="System.Diagnostics.Metrics.Meter"/> and the <see cref="System.Diagnostics.ActivitySource"/>.</summary>
    public const string SourceName = "ModelManager";

    /// <summary>Tag: the model's name.</summary>
    public const string Model = "modelmanager.model";

    /// <summary>Tag: the model's backend type.</summary>
    public const string ModelType = "modelmanager.model.type";

    /// <summary>Tag: why a model was unloaded (<see cref="UnloadReason"/>).</summary>
    public const string Reason = "modelmanager.reason";

    /// <summary>Tag: the model that served instead of a failed one.</summary>
    public const string Fallback = "modelmanager.fallback";

    /// <summary>Tag: the exception type of a failure.</summary>
    public const string ErrorType = "error.type";
}
