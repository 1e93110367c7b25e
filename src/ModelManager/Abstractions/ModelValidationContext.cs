namespace ModelManager;

/// <summary>Collects configuration errors and warnings, each prefixed with its JSON path.</summary>
public sealed class ModelValidationContext
{
    private readonly List<string> _errors = [];
    private readonly List<string> _warnings = [];

    /// <summary>Errors so far.</summary>
    public IReadOnlyList<string> Errors => _errors;

    /// <summary>Warnings so far.</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>Records an error at <paramref name="path"/> (e.g. <c>models[2].gpu_layers</c>).</summary>
    public void AddError(string path, string message) => _errors.Add($"{path}: {message}");

    /// <summary>Records a warning at <paramref name="path"/>.</summary>
    public void AddWarning(string path, string message) => _warnings.Add($"{path}: {message}");

    /// <summary>Records an error for a model key, e.g. <c>AddError(model, "gpu_layers", "must be ≥ -1")</c>.</summary>
    public void AddError(ModelDescriptor model, string key, string message) =>
        AddError($"{model.ConfigPath}.{key.Replace(':', '.')}", message);
}
