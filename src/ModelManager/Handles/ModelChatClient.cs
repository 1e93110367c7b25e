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
        var generation = Prepare(options, ref list);
        var text = new StringBuilder();
        var contents = new List<AIContent>();
        var final = default(GenerationUpdate);
        await foreach (var update in _model.StreamAsync(null, list, generation, cancellationToken).ConfigureAwait(false))
        {
            if (update.ToolCall is { } call)
            {
                FlushText(text, contents);
                contents.Add(call);
            }

            text.Append(update.Text);
            final = update;
        }

        FlushText(text, contents);

        // The stream always ends with its outcome, which names the model that served.
        var outcome = final.Outcome!;

        var id = NewId();
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, contents) { MessageId = id })
        {
            ResponseId = id,
            ModelId = final.ModelName,
            CreatedAt = _model.Time.GetUtcNow(),
            FinishReason = ToFinishReason(outcome),
            Usage = ToUsage(outcome),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = AsList(messages);
        var generation = Prepare(options, ref list);
        var id = NewId();
        var created = _model.Time.GetUtcNow();
        await foreach (var update in _model.StreamAsync(null, list, generation, cancellationToken).ConfigureAwait(false))
        {
            if (update.Outcome is { } outcome)
            {
                // The last update: why it ended and, as the one UsageContent of the stream, what it cost.
                yield return new ChatResponseUpdate(ChatRole.Assistant, [new UsageContent(ToUsage(outcome))])
                {
                    ResponseId = id,
                    MessageId = id,
                    ModelId = update.ModelName,
                    CreatedAt = created,
                    FinishReason = ToFinishReason(outcome),
                };
            }
            else if (update.ToolCall is { } call)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, [call])
                {
                    ResponseId = id,
                    MessageId = id,
                    ModelId = update.ModelName,
                    CreatedAt = created,
                };
            }
            else if (update.Text.Length > 0)
            {
                yield return new ChatResponseUpdate(ChatRole.Assistant, update.Text)
                {
                    ResponseId = id,
                    MessageId = id,
                    ModelId = update.ModelName,
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

    /// <summary>
    /// The request as the backends take it: <see cref="ChatOptions.Instructions"/> become a leading system message, the
    /// sampling settings become <see cref="GenerationOptions"/>, and any option the manager cannot honour is an error.
    /// </summary>
    /// <exception cref="NotSupportedException">An option that would otherwise be dropped; the message names it and the model.</exception>
    internal GenerationOptions? Prepare(ChatOptions? options, ref IReadOnlyList<ChatMessage> messages)
    {
        if (options is null)
        {
            return null;
        }

        if (Unsupported(options) is { } option)
        {
            throw new NotSupportedException($"ChatOptions.{option} is not supported by model '{_model.Name}', and the manager does not drop a request option it cannot honour.");
        }

        if (!string.IsNullOrEmpty(options.Instructions))
        {
            messages = [new ChatMessage(ChatRole.System, options.Instructions), .. messages];
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
            ResponseFormat = options.ResponseFormat,
            Tools = options.Tools,
            ToolMode = options.ToolMode,
            AllowMultipleToolCalls = options.AllowMultipleToolCalls,
            ConversationId = options.ConversationId,
        };
    }

    /// <summary>The first option set that no backend honours yet, with why; null when all can be.</summary>
    private string? Unsupported(ChatOptions options)
    {
        if (options.ToolMode is RequiredChatToolMode required)
        {
            if (options.Tools is not { Count: > 0 })
            {
                throw new ArgumentException($"ChatOptions.ToolMode requires a tool call from model '{_model.Name}', but ChatOptions.Tools is empty.", nameof(options));
            }

            if (required.RequiredFunctionName is { } name && !options.Tools.Any(t => t.Name == name))
            {
                throw new ArgumentException(
                    $"ChatOptions.ToolMode requires a call to '{name}', which is not one of ChatOptions.Tools ({string.Join(", ", options.Tools.Select(t => t.Name))}).",
                    nameof(options));
            }
        }

        if (options.Tools?.FirstOrDefault(t => t is not AIFunctionDeclaration) is { } tool)
        {
            return $"Tools (\"{tool.Name}\" is a {tool.GetType().Name}; only functions can be called by a local model)";
        }

        if (options.FrequencyPenalty is not null || options.PresencePenalty is not null)
        {
            return options.FrequencyPenalty is not null ? "FrequencyPenalty" : "PresencePenalty";
        }

        if (options.ContinuationToken is not null || options.AllowBackgroundResponses == true)
        {
            return options.ContinuationToken is not null ? "ContinuationToken" : "AllowBackgroundResponses";
        }

        if (options.Reasoning is not null)
        {
            return "Reasoning";
        }

        if (options.RawRepresentationFactory is not null)
        {
            return "RawRepresentationFactory (no provider-specific request object exists)";
        }

        if (options.ModelId is { } id && id != _model.Name && Array.TrueForAll(_model.Chain, e => e.Name != id))
        {
            return $"ModelId ('{id}' is not this client's model or one of its fallbacks; use the keyed client of that model)";
        }

        if (options.AdditionalProperties is { } extra)
        {
            foreach (var key in extra.Keys)
            {
                // stream_options.include_usage is always honoured: every response carries its usage.
                if (key != "stream_options")
                {
                    return $"AdditionalProperties[\"{key}\"]";
                }
            }
        }

        return null;
    }

    internal static ChatFinishReason ToFinishReason(GenerationOutcome outcome) =>
        outcome.IsTruncated ? ChatFinishReason.Length
        : outcome.FinishReason == GenerationFinishReason.ToolCalls ? ChatFinishReason.ToolCalls
        : ChatFinishReason.Stop;

    internal static UsageDetails ToUsage(GenerationOutcome outcome) => new()
    {
        InputTokenCount = outcome.PromptTokens,
        OutputTokenCount = outcome.GeneratedTokens,
        TotalTokenCount = outcome.TotalTokens,
        CachedInputTokenCount = outcome.CachedPromptTokens,
    };

    private static void FlushText(StringBuilder text, List<AIContent> contents)
    {
        if (text.Length > 0)
        {
            contents.Add(new TextContent(text.ToString()));
            text.Clear();
        }
    }

    private static string NewId() => Guid.NewGuid().ToString("N");

    private static IReadOnlyList<ChatMessage> AsList(IEnumerable<ChatMessage> messages)
    {
        ArgumentNullException.ThrowIfNull(messages);
        return messages as IReadOnlyList<ChatMessage> ?? messages.ToList();
    }
}
