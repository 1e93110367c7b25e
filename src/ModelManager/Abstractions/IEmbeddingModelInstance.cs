using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>The embedding side of a loaded model; an <see cref="IModelInstance"/> that can embed returns it from <see cref="IModelInstance.GetService"/>.</summary>
/// <remarks>
/// Called concurrently by many leases, as generation is; the manager never disposes the instance while a call is in flight.
/// The manager sets <see cref="Embedding.ModelId"/> (the model that served, a fallback's name when a fallback did) and
/// <see cref="Embedding.CreatedAt"/>; the backend fills in the vectors and <see cref="GeneratedEmbeddings{TEmbedding}.Usage"/>.
/// </remarks>
public interface IEmbeddingModelInstance
{
    /// <summary>The length of the vectors the model returns, or null when it is not known before the first call.</summary>
    int? Dimensions { get; }

    /// <summary>Embeds <paramref name="values"/>, one vector per value in the same order, with the input tokens in <c>Usage</c>.</summary>
    /// <param name="values">The texts; none is null.</param>
    /// <param name="dimensions">The requested vector length (<see cref="EmbeddingGenerationOptions.Dimensions"/>), or null for the model's own.</param>
    /// <param name="cancellationToken">Cancels the call; a forced unload cancels it too.</param>
    /// <exception cref="NotSupportedException"><paramref name="dimensions"/> is set and the model cannot produce vectors of that length; names the model.</exception>
    Task<GeneratedEmbeddings<Embedding<float>>> EmbedAsync(IReadOnlyList<string> values, int? dimensions, CancellationToken cancellationToken);
}
