namespace ModelManager.IntegrationTests;

/// <summary>Tests that measure process memory: run alone, after the parallel tests, so nothing else allocates meanwhile.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NativeMemoryIsolation
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Native memory";
}
