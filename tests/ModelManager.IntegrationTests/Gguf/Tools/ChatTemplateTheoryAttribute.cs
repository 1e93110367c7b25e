namespace ModelManager.IntegrationTests.Tools;

/// <summary>A theory over the real chat templates: skipped locally when the (uncommitted) template files are missing, run (and failing) under CI.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class ChatTemplateTheoryAttribute : TheoryAttribute
{
    public ChatTemplateTheoryAttribute()
    {
        if (!SharedModels.IsCi && !ToolFixtures.TemplatesPresent)
        {
            Skip = $"chat templates not found in {ToolFixtures.Directory} (see render_references.py for their sources; set CI=true to make this a failure)";
        }
    }
}
