namespace ModelManager.IntegrationTests;

/// <summary>A theory that needs a shared model: skipped locally when the model is missing, run (and failing) under CI.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class SharedModelTheoryAttribute : TheoryAttribute
{
    public SharedModelTheoryAttribute(string relativePath)
    {
        if (!SharedModels.IsCi && !SharedModels.Exists(relativePath))
        {
            Skip = $"shared model '{relativePath}' not found (set CI=true to make this a failure)";
        }
    }
}
