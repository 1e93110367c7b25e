using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>A model handle, what <see cref="IModelManager.GetModel"/> and keyed services return: every call leases its model (or a fallback) for the call's duration.</summary>
/// <remarks>Thread-safe; owns nothing. An agent's handle resolves its chain (model, then fallbacks) again after each reload.</remarks>
internal sealed class ModelHandle : ILanguageModel
{
    private readonly DefaultModelManager _manager;
    private readonly bool _isAgent;
    private ModelChatClient? _chatClient;
    private ModelEmbeddingGenerator? _embeddingGenerator;
    private Resolved? _resolved;

    public ModelHandle(DefaultModelManager manager, string name, bool isAgent)
    {
        _manager = manager;
        Name = name;
        _isAgent = isAgent;
    }

    public string Name { get; }

    /// <summary>The manager that owns the model.</summary>
    internal DefaultModelManager Manager => _manager;

    /// <summary>The manager's clock.</summary>
    internal TimeProvider Time => _manager.Time;

    /// <summary>The model this handle asks for first.</summary>
    public ModelEntry Primary => Chain[0];

    /// <summary>The models this handle tries, in order; re-resolved when a reload changes the configuration.</summary>
    /// <exception cref="ModelNotFoundException">A reload removed the model (or agent) this handle names.</exception>
    public ModelEntry[] Chain => Current.Chain;

    /// <summary>The models of <see cref="Chain"/> that serve embeddings, in order; the first is not <see cref="Primary"/> when that one cannot embed.</summary>
    internal ModelEntry[] EmbeddingChain => Current.Embedding;

    /// <summary>The models of <see cref="Chain"/> that serve chat and completions, in order.</summary>
    private ModelEntry[] ChatChain => Current.Chat;

    /// <summary>The chains as of the running configuration: resolved once per configuration version.</summary>
    private Resolved Current
    {
        get
        {
            var resolved = Volatile.Read(ref _resolved);
            var version = _manager.ConfigurationVersion;
            return resolved is not null && resolved.Version == version ? resolved : Resolve(version);
        }
    }

    private Resolved Resolve(int version)
    {
        var chain = _isAgent ? _manager.ResolveAgentChain(Name) : _manager.ModelChain(Name);
        var resolved = new Resolved(version, chain, Serving(chain, ModelCapabilities.Chat), Serving(chain, ModelCapabilities.Embeddings));
        Volatile.Write(ref _resolved, resolved);
        return resolved;
    }

    // A fallback that cannot serve what was asked is skipped; an empty chain means the model itself cannot.
    private static ModelEntry[] Serving(ModelEntry[] chain, ModelCapabilities capability) =>
        Array.TrueForAll(chain, e => e.Descriptor.Capabilities.HasFlag(capability))
            ? chain
            : chain[0].Descriptor.Capabilities.HasFlag(capability) ? Array.FindAll(chain, e => e.Descriptor.Capabilities.HasFlag(capability)) : [];

    /// <summary>The error for a call asking <see cref="Primary"/> for what it does not serve.</summary>
    internal NotSupportedException NotServing(ModelCapabilities capability)
    {
        var primary = Primary;
        var via = primary.Name == Name ? "" : $" (the model of '{Name}')";
        var what = capability == ModelCapabilities.Embeddings ? "embeddings" : "chat or completions";
        return new NotSupportedException(
            $"Model '{primary.Name}'{via} does not serve {what}: its capabilities are {Describe(primary.Descriptor.Capabilities)}" +
            $"{(primary.Descriptor.CapabilitiesDeclared ? " (configured)" : " (detected from its files; set 'capabilities' to override)")}.");
    }

    internal static string Describe(ModelCapabilities capabilities) =>
        capabilities switch
        {
            ModelCapabilities.Chat => "[\"chat\"]",
            ModelCapabilities.Embeddings => "[\"embeddings\"]",
            _ => "[\"chat\", \"embeddings\"]",
        };

    public async Task<string> GenerateAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default) =>
        (await GenerateResultAsync(prompt, options, cancellationToken).ConfigureAwait(false)).Text;

    public async Task<GenerationResult> GenerateResultAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var text = new StringBuilder();
        var final = default(GenerationUpdate);
        await foreach (var update in StreamAsync(prompt, null, options, cancellationToken).ConfigureAwait(false))
        {
            text.Append(update.Text);
            final = update;
        }

        // The stream always ends with its outcome, which names the model that served.
        return new GenerationResult(text.ToString(), final.ModelName!, final.Outcome!);
    }

    public IAsyncEnumerable<GenerationUpdate> GenerateUpdatesAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        return StreamAsync(prompt, null, options, cancellationToken);
    }

    public async IAsyncEnumerable<string> GenerateStreamingAsync(string prompt, GenerationOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        await foreach (var update in StreamAsync(prompt, null, options, cancellationToken).ConfigureAwait(false))
        {
            if (update.Text.Length > 0)
            {
                yield return update.Text;
            }
        }
    }

    public IChatClient AsChatClient() => _chatClient ??= new ModelChatClient(this);

    /// <summary>The model as a Microsoft.Extensions.AI embedding generator; each call leases the model as a chat call does.</summary>
    internal IEmbeddingGenerator<string, Embedding<float>> AsEmbeddingGenerator() => _embeddingGenerator ??= new ModelEmbeddingGenerator(this);

    /// <summary>
    /// Leases the model (or a fallback), runs one generation and releases the lease when the stream ends. A force-unload
    /// during the call becomes <see cref="ModelUnloadedException"/>; a model with fallbacks that reports itself unavailable
    /// before any output is evicted and the call retried once through the chain, so that its fallbacks answer (without
    /// fallbacks the error reaches the caller and the model stays loaded).
    /// </summary>
    internal async IAsyncEnumerable<GenerationUpdate> StreamAsync(string? prompt, IReadOnlyList<ChatMessage>? messages, GenerationOptions? options,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var chain = ChatChain;
            if (chain.Length == 0)
            {
                throw NotServing(ModelCapabilities.Chat);
            }

            if (!TryBeginCall(chain, out var lease))
            {
                lease = await BeginCallAsync(chain, cancellationToken).ConfigureAwait(false);
            }

            var descriptor = lease.Entry.Descriptor;
            ModelUnavailableException? unavailable = null;
            try
            {
                var yielded = false;
                var defaults = lease.Entry.Descriptor.Parameters;
                var effective = options is null ? defaults : options.WithDefaults(defaults);
                if (options is { MaxTokens: null, ConstrainsWholeOutput: true })
                {
                    effective = effective with { MaxTokens = null }; // the value's end, not the configured max_tokens, ends the output
                }

                // queue_timeout: the call gives up if its first update has not come in time; disarmed once it has.
                using var queued = descriptor.QueueTimeout > TimeSpan.Zero ? new CancellationTokenSource(descriptor.QueueTimeout, Time) : null;
                using var linked = cancellationToken.CanBeCanceled || queued is not null
                    ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.CallToken, queued?.Token ?? CancellationToken.None)
                    : null;
                var token = linked?.Token ?? lease.CallToken;
                var stream = messages is null
                    ? lease.Instance.GenerateAsync(prompt!, effective, token)
                    : lease.Instance.ChatAsync(messages, effective, token);
                await using var e = stream.GetAsyncEnumerator(token);
                var final = false;
                while (true)
                {
                    GenerationUpdate piece;
                    try
                    {
                        if (!await e.MoveNextAsync().ConfigureAwait(false))
                        {
                            break;
                        }

                        piece = e.Current;
                    }
                    catch (OperationCanceledException oce) when (!cancellationToken.IsCancellationRequested
                                                                  && (lease.CallToken.IsCancellationRequested || queued?.IsCancellationRequested == true && !yielded))
                    {
                        throw CallCancelled(lease, oce, "start this call");
                    }
                    catch (ModelUnavailableException u) when (!yielded && attempt == 0 && u.ShouldFailOver && chain.Length > 1)
                    {
                        unavailable = u;
                        break;
                    }

                    if (!yielded)
                    {
                        queued?.CancelAfter(Timeout.InfiniteTimeSpan);
                    }

                    yielded = true;
                    final |= piece.IsFinal;
                    yield return piece.WithModelName(lease.Entry.Name);
                }

                if (unavailable is null && !final)
                {
                    // A backend that ended without its final update: the outcome is unknown, not invented.
                    yield return new GenerationUpdate(new GenerationOutcome(GenerationFinishReason.EndOfSequence, null, null, null)).WithModelName(lease.Entry.Name);
                }
            }
            finally
            {
                EndCall(lease);
            }

            if (unavailable is null)
            {
                yield break;
            }

            await _manager.RetireUnavailableAsync(lease.Entry, unavailable).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The warm path of <see cref="BeginCallAsync"/>: leases the first model of <paramref name="chain"/> when it is Ready and
    /// admits one call on it, with no task and no allocation; false (nothing held) when the model is not Ready. Callers try
    /// this first and await <see cref="BeginCallAsync"/> only when it fails: a completed <see cref="ValueTask{TResult}"/> of
    /// the lease cost as much again as the rest of the cycle (WarmPathBenchmarks).
    /// </summary>
    /// <exception cref="ModelBusyException">The model already holds its <c>max_queue</c> calls.</exception>
    internal bool TryBeginCall(ModelEntry[] chain, out InstanceLease lease)
    {
        if (!_manager.TryAcquireFast(chain[0], out lease))
        {
            return false;
        }

        Admit(lease);
        return true;
    }

    /// <summary>
    /// After <see cref="TryBeginCall"/> failed: leases the first model of <paramref name="chain"/> that loads (waiting for
    /// its load, or falling back) and admits one call on it; the caller ends it with <see cref="EndCall"/>. Its fast lease is
    /// not tried again; a model that became Ready meanwhile is leased under its entry's lock.
    /// </summary>
    /// <exception cref="ModelBusyException">The model already holds its <c>max_queue</c> calls.</exception>
    internal async ValueTask<InstanceLease> BeginCallAsync(ModelEntry[] chain, CancellationToken cancellationToken)
    {
        var lease = await _manager.AcquireChainSlowAsync(chain, cancellationToken).ConfigureAwait(false);
        Admit(lease);
        return lease;
    }

    /// <summary>Admits one call on a lease's model, or ends the lease and throws when the model holds its <c>max_queue</c> calls.</summary>
    private void Admit(InstanceLease lease)
    {
        var entry = lease.Entry;
        if (!entry.TryEnterCall(entry.Descriptor.MaxQueue, out var calls))
        {
            _manager.Release(entry);
            throw new ModelBusyException(entry.Name, calls, entry.Descriptor.MaxQueue, BusyRetryAfter, $"Model '{entry.Name}' holds {calls} calls, its max_queue; retry later.");
        }
    }

    /// <summary>Ends a call <see cref="BeginCallAsync"/> began: its admission, then its lease.</summary>
    internal void EndCall(InstanceLease lease)
    {
        lease.Entry.ExitCall();
        _manager.Release(lease.Entry);
    }

    /// <summary>
    /// What a call cancelled by the manager, not its caller, reports: <see cref="ModelUnloadedException"/> when a forced
    /// unload cancelled it, else <see cref="ModelBusyException"/> for its <c>queue_timeout</c> (counted as busy).
    /// </summary>
    /// <param name="lease">The call's lease.</param>
    /// <param name="cancelled">The cancellation, kept as the inner exception of an unload.</param>
    /// <param name="what">What the call did not do in time, for the message ("start this call").</param>
    internal static Exception CallCancelled(InstanceLease lease, OperationCanceledException cancelled, string what)
    {
        var entry = lease.Entry;
        if (lease.CallToken.IsCancellationRequested)
        {
            return new ModelUnloadedException(entry.Name, $"Model '{entry.Name}' was unloaded while this call was running.", cancelled);
        }

        entry.CountBusy();
        return new ModelBusyException(entry.Name, entry.Calls, entry.Descriptor.MaxQueue, BusyRetryAfter,
            $"Model '{entry.Name}' did not {what} within its queue_timeout of {entry.Descriptor.QueueTimeout.TotalSeconds:0.###} s; retry later.");
    }

    /// <summary>The wait a busy model suggests before a retry (1 s).</summary>
    internal static readonly TimeSpan BusyRetryAfter = TimeSpan.FromSeconds(1);

    public override string ToString() => _resolved is { } r && r.Chain[0].Name != Name
        ? $"ILanguageModel({Name} -> {r.Chain[0].Name})"
        : $"ILanguageModel({Name})";

    private sealed record Resolved(int Version, ModelEntry[] Chain, ModelEntry[] Chat, ModelEntry[] Embedding);
}
