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
    private Resolved? _resolved;

    public ModelHandle(DefaultModelManager manager, string name, bool isAgent)
    {
        _manager = manager;
        Name = name;
        _isAgent = isAgent;
    }

    public string Name { get; }

    /// <summary>The manager's clock.</summary>
    internal TimeProvider Time => _manager.Time;

    /// <summary>The model this handle asks for first.</summary>
    public ModelEntry Primary => Chain[0];

    /// <summary>The models this handle tries, in order; re-resolved when a reload changes the configuration.</summary>
    /// <exception cref="ModelNotFoundException">A reload removed the model (or agent) this handle names.</exception>
    public ModelEntry[] Chain
    {
        get
        {
            var resolved = Volatile.Read(ref _resolved);
            var version = _manager.ConfigurationVersion;
            if (resolved is not null && resolved.Version == version)
            {
                return resolved.Chain;
            }

            var chain = _isAgent ? _manager.ResolveAgentChain(Name) : _manager.ModelChain(Name);
            Volatile.Write(ref _resolved, new Resolved(version, chain));
            return chain;
        }
    }

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
            var lease = await _manager.AcquireChainAsync(Chain, cancellationToken).ConfigureAwait(false);
            var descriptor = lease.Entry.Descriptor;
            if (!lease.Entry.TryEnterCall(descriptor.MaxQueue, out var calls))
            {
                _manager.Release(lease.Entry);
                throw new ModelBusyException(lease.Entry.Name, calls, descriptor.MaxQueue, BusyRetryAfter,
                    $"Model '{lease.Entry.Name}' holds {calls} calls, its max_queue; retry later.");
            }

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
                    catch (OperationCanceledException oce) when (lease.CallToken.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                    {
                        throw new ModelUnloadedException(lease.Entry.Name, $"Model '{lease.Entry.Name}' was unloaded while this call was running.", oce);
                    }
                    catch (OperationCanceledException) when (queued?.IsCancellationRequested == true && !yielded && !cancellationToken.IsCancellationRequested)
                    {
                        lease.Entry.CountBusy();
                        throw new ModelBusyException(lease.Entry.Name, lease.Entry.Calls, descriptor.MaxQueue, BusyRetryAfter,
                            $"Model '{lease.Entry.Name}' did not start this call within its queue_timeout of {descriptor.QueueTimeout.TotalSeconds:0.###} s; retry later.");
                    }
                    catch (ModelUnavailableException u) when (!yielded && attempt == 0 && u.ShouldFailOver && Chain.Length > 1)
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
                lease.Entry.ExitCall();
                _manager.Release(lease.Entry);
            }

            if (unavailable is null)
            {
                yield break;
            }

            await _manager.RetireUnavailableAsync(lease.Entry, unavailable).ConfigureAwait(false);
        }
    }

    /// <summary>The wait a busy model suggests before a retry (1 s).</summary>
    internal static readonly TimeSpan BusyRetryAfter = TimeSpan.FromSeconds(1);

    public override string ToString() => _resolved is { } r && r.Chain[0].Name != Name
        ? $"ILanguageModel({Name} -> {r.Chain[0].Name})"
        : $"ILanguageModel({Name})";

    private sealed record Resolved(int Version, ModelEntry[] Chain);
}
