namespace ModelManager.IntegrationTests;

/// <summary>A fact that needs a shared model: skipped locally when the model is missing, run (and failing) under CI.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class SharedModelFactAttribute : FactAttribute
{
    public SharedModelFactAttribute(params string[] relativePaths)
    {
        if (!SharedModels.IsCi && relativePaths.FirstOrDefault(p => !SharedModels.Exists(p)) is { } missing)
        {
            Skip = $"shared model '{missing}' not found (set CI=true to make this a failure)";
        }
    }
}
