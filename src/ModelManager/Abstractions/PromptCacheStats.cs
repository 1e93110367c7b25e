namespace ModelManager;

/// <summary>A snapshot of one loaded model's prompt cache (the gguf backend's <c>prompt_cache</c>), counted since the model loaded.</summary>
/// <param name="Hits">Requests that reused a cached prefix of their prompt.</param>
/// <param name="Misses">Requests that found no cached prefix and evaluated their whole prompt.</param>
/// <param name="ReusedTokens">Prompt tokens taken from the cache instead of evaluated, over all hits.</param>
/// <param name="Sequences">Finished sequences the cache holds now.</param>
/// <param name="Tokens">Tokens those sequences hold.</param>
/// <param name="Bytes">The memory the saved states hold (their KV cells and tokens): charged to the budget on top of the model, as <see cref="ModelMemoryUsage.CacheBytes"/>.</param>
/// <param name="Restored">Sequences restored from the spill area when the model loaded.</param>
public sealed record PromptCacheStats(long Hits, long Misses, long ReusedTokens, int Sequences, long Tokens, long Bytes, int Restored);
