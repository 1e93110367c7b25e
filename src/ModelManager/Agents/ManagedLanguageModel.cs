using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>The handle behind <see cref="ILanguageModel"/>: every call leases its model (or a fallback) for the call's duration.</summary>
internal sealed class ManagedLanguageModel : ILanguageModel
{
    private readonly DefaultModelManager _manager;
    private readonly bool _isAgent;
    private ModelChatClient? _chatClient;
    private Resolved? _resolved;

    public ManagedLanguageModel(DefaultModelManager manager, string name, bool isAgent)
    {
        _manager = manager;
        Name = name;
        _isAgent = isAgent;
    }

    public string Name { get; }

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

    public async Task<string> GenerateAsync(string prompt, GenerationOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var lease = await _manager.AcquireChainAsync(Chain, cancellationToken).ConfigureAwait(false);
        try
        {
            var text = new StringBuilder();
            await foreach (var piece in RunAsync(lease, prompt, null, options, cancellationToken).ConfigureAwait(false))
            {
                text.Append(piece);
            }

            return text.ToString();
        }
        finally
        {
            _manager.Release(lease.Entry);
        }
    }

    public async IAsyncEnumerable<string> GenerateStreamingAsync(string prompt, GenerationOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var lease = await _manager.AcquireChainAsync(Chain, cancellationToken).ConfigureAwait(false);
        try
        {
            await foreach (var piece in RunAsync(lease, prompt, null, options, cancellationToken).ConfigureAwait(false))
            {
                yield return piece;
            }
        }
        finally
        {
            _manager.Release(lease.Entry);
        }
    }

    public IChatClient AsChatClient() => _chatClient ??= new ModelChatClient(this);

    /// <summary>Leases the model for a chat call; the caller releases.</summary>
    internal ValueTask<Leased> AcquireAsync(CancellationToken cancellationToken) => _manager.AcquireChainAsync(Chain, cancellationToken);

    internal void Release(Leased lease) => _manager.Release(lease.Entry);

    /// <summary>Runs one generation on a leased instance, turning a force-unload into <see cref="ModelUnloadedException"/>.</summary>
    internal static async IAsyncEnumerable<string> RunAsync(Leased lease, string? prompt, IReadOnlyList<ChatMessage>? messages, GenerationOptions? options,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var defaults = lease.Entry.Descriptor.Parameters;
        var effective = options is null ? defaults : options.WithDefaults(defaults);
        using var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lease.CallToken) : null;
        var token = linked?.Token ?? lease.CallToken;

        var stream = messages is null
            ? lease.Instance.GenerateAsync(prompt!, effective, token)
            : lease.Instance.ChatAsync(messages, effective, token);
        await using var e = stream.GetAsyncEnumerator(token);
        while (true)
        {
            string piece;
            try
            {
                if (!await e.MoveNextAsync().ConfigureAwait(false))
                {
                    yield break;
                }

                piece = e.Current;
            }
            catch (OperationCanceledException oce) when (lease.CallToken.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new ModelUnloadedException(lease.Entry.Name, $"Model '{lease.Entry.Name}' was unloaded while this call was running.", oce);
            }

            yield return piece;
        }
    }

    public override string ToString() => _resolved is { } r && r.Chain[0].Name != Name
        ? $"ILanguageModel({Name} -> {r.Chain[0].Name})"
        : $"ILanguageModel({Name})";

    private sealed record Resolved(int Version, ModelEntry[] Chain);
}
