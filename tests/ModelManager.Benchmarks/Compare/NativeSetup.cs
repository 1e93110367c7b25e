namespace ModelManager.Benchmarks.Compare;

/// <summary>Process-wide native settings the baselines and the manager share.</summary>
internal static class NativeSetup
{
    /// <summary>
    /// Creates (and drops) a manager with the gguf backend before any baseline touches llama.cpp: the backend routes
    /// llama.cpp's log to its logger (here none), so direct loads stay off the terminal too.
    /// </summary>
    public static async Task RouteNativeLogsAsync()
    {
        await using var fixture = await ManagerFixture.CreateAsync("""{ "max_memory_mb": 64, "models": [ { "name": "none", "type": "fake" } ] }""").ConfigureAwait(false);
    }
}
