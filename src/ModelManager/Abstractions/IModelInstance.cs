using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>One loaded model, produced by a backend and owned by the manager.</summary>
/// <remarks>
/// Generation methods are called concurrently by many leases; the manager never calls <see cref="IAsyncDisposable.DisposeAsync"/>
/// while a call is in flight. Options arrive with the model's defaults already applied.
/// </remarks>
public interface IModelInstance : IAsyncDisposable
{
    /// <summary>The bytes the model holds now, measured or computed by the backend after loading.</summary>
    long MemoryBytes { get; }

    /// <summary>Generates a completion of a raw prompt: text pieces, then one final update with the outcome.</summary>
    IAsyncEnumerable<GenerationUpdate> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken);

    /// <summary>Generates the assistant's reply to a conversation, applying the model's chat template: text pieces, then one final update with the outcome.</summary>
    IAsyncEnumerable<GenerationUpdate> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, CancellationToken cancellationToken);

    /// <summary>Called once, after the model's calls drained and before <see cref="IAsyncDisposable.DisposeAsync"/>, when the manager unloads it for <paramref name="reason"/>.</summary>
    /// <remarks>A backend may save state here that a later load of the same model restores (the gguf prompt cache spills to its folder). It must not throw.</remarks>
    ValueTask UnloadingAsync(UnloadReason reason) => ValueTask.CompletedTask;

    /// <summary>Returns an object of <paramref name="serviceType"/> the instance holds (its native model, say), or null; as <see cref="IChatClient.GetService"/>.</summary>
    /// <remarks>
    /// The object belongs to the instance: valid only while a lease pins it, never disposed by the caller. A model that serves
    /// embeddings returns its <see cref="IEmbeddingModelInstance"/> for that type (the default does when the instance implements it).
    /// </remarks>
    object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is null && serviceType is not null && serviceType.IsInstanceOfType(this) ? this : null;
}
