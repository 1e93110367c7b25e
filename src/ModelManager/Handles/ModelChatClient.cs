using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>A managed model as an <see cref="IChatClient"/>; each call leases the model, so the manager may evict it between calls.</summary>
/// <remarks>Thread-safe. Dispose does nothing: the manager owns the model.</remarks>
internal sealed class ModelChatClient : IChatClient
{
    private readonly ModelHandle _model;
    private readonly ChatClientMetadata _metadata;

    public ModelChatClient(ModelHandle model)
    {
        _model = model;
        _metadata = new ChatClientMetadata("modelmanager", null, model.Name);
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = AsList(messages);
        var servedBy = new ModelHandle.ServedBy();
        var text = new StringBuilder();
        await foreach (var piece in _model.StreamAsync(null, list, ToGenerationOptions(options), servedBy, cancellationToken).ConfigureAwait(false))
        {
            text.Append(piece);
        }

        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ModelId = servedBy.Name,
            CreatedAt = _model.Time.GetUtcNow(),
            FinishReason = ChatFinishReason.Stop,
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = AsList(messages);
        var servedBy = new ModelHandle.ServedBy();
        var id = Guid.NewGuid().ToString("N");
        await foreach (var piece in _model.StreamAsync(null, list, ToGenerationOptions(options), servedBy, cancellationToken).ConfigureAwait(false))
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, piece) { ModelId = servedBy.Name, ResponseId = id };
        }

        yield return new ChatResponseUpdate { Role = ChatRole.Assistant, FinishReason = ChatFinishReason.Stop, ModelId = servedBy.Name, ResponseId = id };
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
        {
            return null;
        }

        if (serviceType == typeof(ChatClientMetadata))
        {
            return _metadata;
        }

        if (serviceType == typeof(ModelDescriptor))
        {
            return _model.Primary.Descriptor;
        }

        return serviceType.IsInstanceOfType(this) ? this : serviceType.IsInstanceOfType(_model) ? _model : null;
    }

    public void Dispose()
    {
        // The manager owns the model; a container disposing this client must not unload it.
    }

    internal static GenerationOptions? ToGenerationOptions(ChatOptions? options)
    {
        if (options is null)
        {
            return null;
        }

        return new GenerationOptions
        {
            MaxTokens = options.MaxOutputTokens,
            Temperature = options.Temperature,
            DoSample = options.Temperature is { } t ? t > 0 : null,
            TopP = options.TopP,
            TopK = options.TopK,
            Seed = options.Seed,
            StopSequences = options.StopSequences,
        };
    }

    private static IReadOnlyList<ChatMessage> AsList(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
    }
}
