using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>A handle to a managed model: each call leases the model, loading it first if it is not in memory.</summary>
/// <remarks>
/// Thread-safe. A handle stays valid for the manager's lifetime; between calls the manager may evict the model,
/// and the next call reloads it. The handle owns nothing: disposing its chat client does not unload the model.
/// </remarks>
public interface ILanguageModel
{
    /// <summary>The name the handle was asked for (a model or an agent name).</summary>
    string Name { get; }

    /// <summary>Generates a completion of <paramref name="prompt"/>.</summary>
    Task<string> GenerateAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Generates a completion of <paramref name="prompt"/>, with the model that served it, why it ended and the tokens it took.</summary>
    Task<GenerationResult> GenerateResultAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Generates a completion of <paramref name="prompt"/> as updates: text pieces, then one final update with the outcome; each names the model that serves.</summary>
    IAsyncEnumerable<GenerationUpdate> GenerateUpdatesAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Generates a completion of <paramref name="prompt"/>, one text piece at a time; the lease is held until the stream ends.</summary>
    IAsyncEnumerable<string> GenerateStreamingAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>The model as a Microsoft.Extensions.AI chat client, with the model's chat template applied.</summary>
    IChatClient AsChatClient();
}
