using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>A GGUF model that also serves embeddings: the chat model, plus a <see cref="LlamaSharpEmbedder"/> on the same weights.</summary>
/// <remarks>
/// Thread-safe, as both parts are. What the budget is charged for is both: the chat model's bytes plus the embedding
/// context's. Disposing it disposes the embedder first, then the model (whose weights the embedder's context shares).
/// </remarks>
internal sealed class LlamaSharpEmbeddingModel(IModelInstance model, LlamaSharpEmbedder embedder, long embedderBytes) : IModelInstance
{
    public long MemoryBytes { get; } = model.MemoryBytes + embedderBytes;

    /// <summary>The chat model underneath.</summary>
    internal IModelInstance Model => model;

    public IAsyncEnumerable<GenerationUpdate> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken) =>
        model.GenerateAsync(prompt, options, cancellationToken);

    public IAsyncEnumerable<GenerationUpdate> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, CancellationToken cancellationToken) =>
        model.ChatAsync(messages, options, cancellationToken);

    /// <summary>The embedder for <see cref="IEmbeddingModelInstance"/>; anything else as the chat model answers.</summary>
    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType == typeof(IEmbeddingModelInstance) ? embedder
        : serviceKey is null && serviceType == typeof(LlamaSharpEmbeddingModel) ? this
        : model.GetService(serviceType, serviceKey);

    /// <summary>The chat model's (its prompt cache spills), as every other part of the contract is forwarded.</summary>
    public ValueTask UnloadingAsync(UnloadReason reason) => model.UnloadingAsync(reason);

    public async ValueTask DisposeAsync()
    {
        embedder.Dispose();
        await model.DisposeAsync().ConfigureAwait(false);
    }
}
