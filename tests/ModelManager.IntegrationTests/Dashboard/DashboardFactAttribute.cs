namespace ModelManager.IntegrationTests.Dashboard;

/// <summary>A fact that needs stories260K and headless Chromium: skipped locally when either is missing, run (and failing) under CI.</summary>
[AttributeUsage(AttributeTargets.Method)]
internal sealed class DashboardFactAttribute : FactAttribute
{
    public DashboardFactAttribute()
    {
        if (SharedModels.IsCi)
        {
            return;
        }

        if (!SharedModels.Exists("stories260K/stories260K.gguf"))
        {
            Skip = "shared model 'stories260K/stories260K.gguf' not found (set CI=true to make this a failure)";
        }
        else if (!File.Exists(HeadlessChromium.ExecutablePath))
        {
            Skip = $"{HeadlessChromium.ExecutablePath} not found: apt-get install -y chromium chromium-driver (set CI=true to make this a failure)";
        }
    }
}
