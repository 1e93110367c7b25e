namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>One request as the raw server received it.</summary>
internal sealed record RawRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, string Body)
{
    public bool IsChat => Method == "POST" && Path.EndsWith("/chat/completions", StringComparison.Ordinal);

    public bool IsModels => Method == "GET" && Path.EndsWith("/models", StringComparison.Ordinal);
}
