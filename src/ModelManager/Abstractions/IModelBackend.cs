namespace ModelManager;

/// <summary>Loads models of one or more <c>type</c> values; backends plug into the manager through DI.</summary>
/// <remarks>Implementations must be thread-safe: the manager estimates and loads different models concurrently.</remarks>
public interface IModelBackend
{
    /// <summary>The config <c>type</c> values this backend serves, lower case; the first is its canonical name.</summary>
    IReadOnlyList<string> Types { get; }

    /// <summary>Model-level keys this backend reads beyond the common ones (<c>gpu_layers</c>, <c>parameters:size_mb</c>); others are reported as unknown.</summary>
    IReadOnlyCollection<string> SettingKeys { get; }

    /// <summary>Checks a model's backend-specific settings at start-up, reporting each problem to <paramref name="context"/>.</summary>
    void Validate(ModelDescriptor model, ModelValidationContext context);

    /// <summary>Estimates the bytes the model will hold once loaded, without loading it.</summary>
    /// <exception cref="ModelFormatException">The model's files are malformed.</exception>
    ValueTask<long> EstimateBytesAsync(ModelDescriptor model, CancellationToken cancellationToken);

    /// <summary>Where the model is served from (a remote endpoint), for <c>ChatClientMetadata.ProviderUri</c>; null for models run in process.</summary>
    Uri? GetEndpoint(ModelDescriptor model) => null;

    /// <summary>What the model serves when its config has no <c>capabilities</c> key, detected from its files where possible; cheap (no load).</summary>
    /// <remarks>Called at start-up and on every reload. The default is <see cref="ModelCapabilities.Chat"/>.</remarks>
    ModelCapabilities DetectCapabilities(ModelDescriptor model) => ModelCapabilities.Chat;

    /// <summary>Loads the model; the returned instance is owned by the manager, which disposes it.</summary>
    Task<IModelInstance> LoadAsync(ModelDescriptor model, IProgress<double>? progress, CancellationToken cancellationToken);
}
