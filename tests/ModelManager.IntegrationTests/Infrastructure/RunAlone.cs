namespace ModelManager.IntegrationTests;

/// <summary>
/// Tests that measure the process, its memory or a latency bound an issue sets (the dashboard's 2 s): run alone, after the
/// parallel tests, so that nothing else allocates or takes the CPU meanwhile. In the parallel phase on the 2-core CI
/// machine, a test whose steps take 0.1 s alone once took 19.7 s.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class RunAlone
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Run alone";
}
