using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>A managed model as an <see cref="IChatClient"/>; each call leases the model, so the manager may evict it between calls.</summary>
/// <remarks>Thread-safe. Dispose does nothing: the manager owns the model.</remarks>
internal sealed class ModelChatClient : IChatClient
{
    /// <summary>The provider name in <see cref="ChatClientMetadata"/> (and so in OpenTelemetry's <c>gen_ai.provider.name</c>).</summary>
    internal const string ProviderName = "modelmanager";

    private readonly ModelHandle _model;

    public ModelChatClient(ModelHandle model)
    {
        _model = model;
    }

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = AsList(messages);
        var servedBy = new ModelHandle.ServedBy();
        var text = new StringBuilder();
        GenerationOutcome? outcome = null;
        await foreach (var update in _model.StreamAsync(null, list, ToGenerationOptions(options), servedBy, cancellationToken).ConfigureAwait(false))
        {
            text.Append(update.Text);
            outcome = update.Outcome ?? outcome;
        }

        var id = NewId();
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()) { MessageId = id })
        {
            ResponseId = id,
            ModelId = servedBy.Name,
            CreatedAt = _model.Time.GetUtcNow(),
            FinishReason = ToFinishReason(outcome!),
            Usage = ToUsage(outcome!),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = AsList(messages);
        var servedBy = new ModelHandle.ServedBy();
        var id = NewId();
        var created = _model.Time.GetUtcNow();
        await foreach (var update in _model.StreamAsync(null, list, ToGenerationOptions(options), servedBy, cancellationToken).ConfigureAwait(false))
        {
            if (update.Outcome is { } outcome)
            {
                // The last update: why it ended and, as the one UsageContent of the stream, what it cost.
                yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(ToUsage(outcome))])
                {
                    ResponseId = id,
                    MessageId = id,
                    ModelId = servedBy.Name,
                    CreatedAt = created,
                    FinishReason = ToFinishReason(outcome),
                };
            }
            else if (update.Text.Length > 0)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, update.Text)
                {
                    ResponseId = id,
                    MessageId = id,
                    ModelId = servedBy.Name,
                    CreatedAt = created,
                };
            }
        }
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
            // Read at each call: a reload may map the key to another model.
            var primary = _model.Primary;
            return new ChatClientMetadata(ProviderName, primary.Backend.GetEndpoint(primary.Descriptor), primary.Name);
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

    internal static ChatFinishReason ToFinishReason(GenerationOutcome outcome) =>
        outcome.IsTruncated ? ChatFinishReason.Length : ChatFinishReason.Stop;

    internal static UsageDetails ToUsage(GenerationOutcome outcome) => new()
    {
        InputTokenCount = outcome.PromptTokens,
        OutputTokenCount = outcome.GeneratedTokens,
        TotalTokenCount = outcome.TotalTokens,
        CachedInputTokenCount = outcome.CachedPromptTokens,
    };

    private static string NewId() => Guid.NewGuid().ToString("N");

    private static IReadOnlyList<ChatMessage> AsList(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
    }
}
