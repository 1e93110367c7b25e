namespace ModelManager;

/// <summary>Registers the <c>fake</c> test backend.</summary>
public static class FakeBackendBuilderExtensions
{
    /// <summary>Adds type <c>fake</c>: models with real native memory and deterministic output, for tests.</summary>
    public static ModelManagerBuilder AddFakeBackend(this ModelManagerBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddBackend<FakeModelBackend>();
    }
}
