namespace ModelManager;

/// <summary>What a model can serve: chat and completions, embeddings, or both (the config's <c>capabilities</c>).</summary>
[Flags]
public enum ModelCapabilities
{
    /// <summary>Nothing; never the capabilities of a configured model.</summary>
    None = 0,

    /// <summary>Text generation: <see cref="ILanguageModel"/> calls and the keyed <c>IChatClient</c> (<c>"chat"</c>).</summary>
    Chat = 1,

    /// <summary>Embeddings: the keyed <c>IEmbeddingGenerator&lt;string, Embedding&lt;float&gt;&gt;</c> (<c>"embeddings"</c>).</summary>
    Embeddings = 2,
}
