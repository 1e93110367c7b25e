using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>A managed model as an <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>; each call leases the model (or a fallback) as a chat call does.</summary>
/// <remarks>
/// Thread-safe. Dispose does nothing: the manager owns the model. A call of several values is one batch on the model that
/// serves it; <see cref="Embedding.ModelId"/> names that model (a fallback's name when a fallback served).
/// </remarks>
internal sealed class ModelEmbeddingGenerator : IEmbeddingGenerator<string, Embedding<float>>
{
    private readonly ModelHandle _model;
    private int _lastDimensions;

    public ModelEmbeddingGenerator(ModelHandle model)
    {
        _model = model;
    }

    public async Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(values);
        var list = values as IReadOnlyList<string> ?? values.ToArray();
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is null)
            {
                throw new ArgumentException($"values[{i}] is null; every value to embed must be a string (empty is allowed).", nameof(values));
            }
        }

        var chain = _model.EmbeddingChain;
        if (chain.Length == 0)
        {
            throw _model.NotServing(ModelCapabilities.Embeddings);
        }

        var dimensions = Prepare(options, chain);
        if (list.Count == 0)
        {
            // Nothing to embed: no model needs to load for it.
            return new GeneratedEmbeddings<Embedding<float>>() { Usage = new UsageDetails { InputTokenCount = 0, TotalTokenCount = 0 } };
        }

        for (var attempt = 0; ; attempt++)
        {
            if (!_model.TryBeginCall(chain, out var lease))
            {
                lease = await _model.BeginCallAsync(chain, cancellationToken).ConfigureAwait(false);
            }

            var entry = lease.Entry;
            var descriptor = entry.Descriptor;
            ModelUnavailableException? unavailable = null;

            try
            {
                if (lease.Instance.GetService(typeof(IEmbeddingModelInstance)) is not IEmbeddingModelInstance embedder)
                {
                    throw new NotSupportedException($"Model '{entry.Name}' ({descriptor.Type}) was loaded but its backend cannot produce embeddings; " +
                                                    "set its 'capabilities' to [\"chat\"] or use an embedding model.");
                }

                // queue_timeout bounds the whole call: an embedding has no first token before its result.
                using var queued = descriptor.QueueTimeout > TimeSpan.Zero ? new CancellationTokenSource(descriptor.QueueTimeout, _model.Time) : null;
                using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.CallToken, queued?.Token ?? CancellationToken.None);
                GeneratedEmbeddings<Embedding<float>> result;
                try
                {
                    result = await embedder.EmbedAsync(list, dimensions, linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException oce) when (!cancellationToken.IsCancellationRequested
                                                              && (lease.CallToken.IsCancellationRequested || queued?.IsCancellationRequested == true))
                {
                    throw ModelHandle.CallCancelled(lease, oce, "finish this call");
                }
                catch (ModelUnavailableException u) when (attempt == 0 && u.ShouldFailOver && chain.Length > 1)
                {
                    unavailable = u;
                    result = null!;
                }

                if (unavailable is null)
                {
                    if (result.Count != list.Count)
                    {
                        throw new InvalidOperationException($"Model '{entry.Name}' returned {result.Count} embeddings for {list.Count} values.");
                    }

                    var created = _model.Time.GetUtcNow();
                    foreach (var embedding in result)
                    {
                        embedding.ModelId = entry.Name;
                        embedding.CreatedAt ??= created;
                    }

                    if (entry == chain[0] && result.Count > 0)
                    {
                        Volatile.Write(ref _lastDimensions, result[0].Vector.Length);
                    }

                    return result;
                }
            }
            finally
            {
                _model.EndCall(lease);
            }

            await _model.Manager.RetireUnavailableAsync(entry, unavailable).ConfigureAwait(false);
        }
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        if (serviceType == typeof(EmbeddingGeneratorMetadata))
        {
            // Read at each call: a reload may map the key to another model.
            var chain = _model.EmbeddingChain;
            var primary = chain.Length > 0 ? chain[0] : _model.Primary;
            return new EmbeddingGeneratorMetadata(ModelChatClient.ProviderName, primary.Backend.GetEndpoint(primary.Descriptor), primary.Name, KnownDimensions(primary));
        }

        if (serviceType == typeof(ModelDescriptor))
        {
            return _model.Primary.Descriptor;
        }

        return serviceType.IsInstanceOfType(this) ? this : serviceType.IsInstanceOfType(_model) ? _model : null;
    }

    public void Dispose()
    {
        // The manager owns the model; a container disposing this generator must not unload it.
    }

    /// <summary>The vector length: the loaded model's, else the last one it returned; null before either is known.</summary>
    private int? KnownDimensions(ModelEntry primary)
    {
        var manager = _model.Manager;
        if (manager.TryAcquireFast(primary, out var lease))
        {
            try
            {
                if ((lease.Instance.GetService(typeof(IEmbeddingModelInstance)) as IEmbeddingModelInstance)?.Dimensions is { } known)
                {
                    return known;
                }
            }
            finally
            {
                manager.Release(primary);
            }
        }

        var last = Volatile.Read(ref _lastDimensions);
        return last > 0 ? last : null;
    }

    /// <summary>The requested dimensions; any other option the manager cannot honour is an error, never dropped.</summary>
    /// <exception cref="NotSupportedException">An option no model can honour; the message names it and the model.</exception>
    private int? Prepare(EmbeddingGenerationOptions? options, ModelEntry[] chain)
    {
        if (options is null)
        {
            return null;
        }

        var name = chain[0].Name;
        if (options.Dimensions is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Dimensions, $"EmbeddingGenerationOptions.Dimensions must be at least 1 (model '{name}').");
        }

        if (options.ModelId is { } id && id != _model.Name && Array.TrueForAll(chain, e => e.Name != id))
        {
            throw new NotSupportedException($"EmbeddingGenerationOptions.ModelId ('{id}' is not this generator's model '{name}' or one of its fallbacks; " +
                                            "use the keyed generator of that model) is not supported, and the manager does not drop a request option it cannot honour.");
        }

        if (options.RawRepresentationFactory is not null)
        {
            throw new NotSupportedException($"EmbeddingGenerationOptions.RawRepresentationFactory (no provider-specific request object exists) is not supported by model '{name}'.");
        }

        if (options.AdditionalProperties is { Count: > 0 } extra)
        {
            throw new NotSupportedException($"EmbeddingGenerationOptions.AdditionalProperties[\"{extra.Keys.First()}\"] is not supported by model '{name}', " +
                                            "and the manager does not drop a request option it cannot honour.");
        }

        return options.Dimensions;
    }
}
