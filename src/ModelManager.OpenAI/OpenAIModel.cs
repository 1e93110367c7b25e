using System.ClientModel;
using System.Runtime.CompilerServices;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using ChatCompletionOptions = OpenAI.Chat.ChatCompletionOptions;

namespace ModelManager;

/// <summary>One loaded openai model: a client per endpoint, tried in order, each with retries and a circuit breaker.</summary>
/// <remarks>
/// Thread-safe: calls run concurrently on the SDK's clients. Owns its endpoints' HttpClients and disposes them on unload.
/// A call fails over to the next endpoint only before any text or tool call has been returned; after that a failure ends the call.
/// </remarks>
internal sealed class OpenAIModel : IModelInstance, IEmbeddingModelInstance
{
    // OpenAI's own API accepts at most four stop sequences; the rest are applied locally.
    private const int MaxRemoteStops = 4;

    private readonly ModelDescriptor _model;
    private readonly OpenAIModelSettings _settings;
    private readonly OpenAIEndpoint[] _endpoints;
    private readonly int _defaultMaxTokens;
    private readonly ILogger _logger;

    public OpenAIModel(ModelDescriptor model, OpenAIModelSettings settings, OpenAIEndpoint[] endpoints, int defaultMaxTokens, ILogger logger)
    {
        _model = model;
        _settings = settings;
        _endpoints = endpoints;
        _defaultMaxTokens = defaultMaxTokens;
        _logger = logger;
    }

    /// <summary>Zero: the model lives on the server.</summary>
    public long MemoryBytes => 0;

    /// <summary>The endpoints, in failover order.</summary>
    internal IReadOnlyList<OpenAIEndpoint> Endpoints => _endpoints;

    /// <summary>A raw prompt becomes one user message of a chat completion (the SDK has no legacy completions client, and chat is what every server speaks).</summary>
    public IAsyncEnumerable<GenerationUpdate> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken) =>
        ChatAsync([new ChatMessage(ChatRole.User, prompt)], options, cancellationToken);

    /// <remarks>
    /// The outcome is the server's: its <c>usage</c> (the SDK asks for it in streams with <c>stream_options.include_usage</c>) and its
    /// <c>finish_reason</c>; see <see cref="ToOutcome"/>.
    /// </remarks>
    public IAsyncEnumerable<GenerationUpdate> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, CancellationToken cancellationToken) =>
        StreamAsync(messages, options, cancellationToken);

    /// <summary>Unknown until the server answers: a remote model's size is its own.</summary>
    public int? Dimensions => null;

    /// <summary>
    /// <c>POST {endpoint}/embeddings</c> with every value in one request, failing over to the next endpoint as chat calls do;
    /// <c>dimensions</c> is sent (the server refuses a size its model cannot make). Usage is the server's <c>prompt_tokens</c>.
    /// </summary>
    public async Task<GeneratedEmbeddings<Embedding<float>>> EmbedAsync(IReadOnlyList<string> values, int? dimensions, CancellationToken cancellationToken)
    {
        var options = dimensions is { } d ? new EmbeddingGenerationOptions { Dimensions = d } : null;
        var failures = new List<ModelEndpointException>();
        for (var i = 0; i < _endpoints.Length; i++)
        {
            var endpoint = _endpoints[i];
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            limit.CancelAfter(endpoint.CallBudget);
            try
            {
                var result = await endpoint.Embeddings.GenerateAsync(values, options, limit.Token).ConfigureAwait(false);
                foreach (var embedding in result)
                {
                    embedding.AdditionalProperties ??= [];
                    embedding.AdditionalProperties["remote_model"] = embedding.ModelId ?? _settings.RemoteModel;
                }

                return result;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                var stalled = limit.IsCancellationRequested && ex is OperationCanceledException ? endpoint.CallBudget : (TimeSpan?)null;
                var failure = EndpointErrors.Classify(ex, _model.Name, endpoint, _settings.Secrets, stalled, midStream: false);
                failures.Add(failure);
                if (!EndpointErrors.ShouldFailOver(failure) || i == _endpoints.Length - 1)
                {
                    break;
                }

                OpenAILog.FailingOver(_logger, _model.Name, endpoint.Url, failure.Kind, failure.Message);
            }
        }

        var error = Combine(failures);
        OpenAILog.CallFailed(_logger, _model.Name, error.Message);
        throw error;
    }

    /// <summary>Checks that at least one endpoint answers <c>GET {endpoint}/models</c>, trying them in order.</summary>
    /// <exception cref="ModelEndpointException">No endpoint answered.</exception>
    public async Task CheckReachableAsync(CancellationToken cancellationToken)
    {
        var failures = new List<ModelEndpointException>();
        foreach (var endpoint in _endpoints)
        {
            try
            {
                var result = await endpoint.Models.GetModelsAsync(cancellationToken).ConfigureAwait(false);
                var ids = result.Value.Select(m => m.Id).ToList();
                OpenAILog.Reachable(_logger, _model.Name, endpoint.Url, ids.Count);
                if (ids.Count > 0 && !ids.Contains(_settings.RemoteModel, StringComparer.Ordinal))
                {
                    OpenAILog.ModelNotListed(_logger, _model.Name, endpoint.Url, _settings.RemoteModel, string.Join(", ", ids.Take(10)));
                }

                return;
            }
            catch (ClientResultException e) when (e.Status == 404)
            {
                // The server answered; it just has no model list (some proxies don't).
                OpenAILog.NoModelsEndpoint(_logger, _model.Name, endpoint.Url);
                return;
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                var failure = EndpointErrors.Classify(e, _model.Name, endpoint, _settings.Secrets, stalledAfter: null, midStream: false);
                failures.Add(failure);
                if (failures.Count < _endpoints.Length)
                {
                    OpenAILog.FailingOver(_logger, _model.Name, endpoint.Url, failure.Kind, failure.Message);
                }
            }
        }

        throw Combine(failures);
    }

    public ValueTask DisposeAsync()
    {
        foreach (var endpoint in _endpoints)
        {
            endpoint.Dispose();
        }

        OpenAILog.ClientDisposed(_logger, _model.Name);
        return ValueTask.CompletedTask;
    }

    public override string ToString() => $"openai model '{_model.Name}' (model id '{_settings.RemoteModel}' on {string.Join(", ", _endpoints.Select(e => e.Url))})";

    private async IAsyncEnumerable<GenerationUpdate> StreamAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var chatOptions = ToChatOptions(options);
        var failures = new List<ModelEndpointException>();
        for (var i = 0; i < _endpoints.Length; i++)
        {
            var endpoint = _endpoints[i];
            var filter = new StopSequenceFilter(options.StopSequences);
            var started = false;
            var yielded = false;
            var finished = false;
            var calls = new List<FunctionCallContent>();
            ChatFinishReason? reason = null;
            UsageDetails? usage = null;
            ModelEndpointException? failure = null;

            using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var stream = endpoint.Chat.GetStreamingResponseAsync(messages, chatOptions, stall.Token);
            var e = stream.GetAsyncEnumerator(stall.Token);
            try
            {
                while (true)
                {
                    // The first read sends the request (retries included); later reads wait for the next chunk only.
                    var limit = started ? endpoint.AttemptTimeout : endpoint.CallBudget;
                    stall.CancelAfter(limit);
                    bool more;
                    try
                    {
                        more = await e.MoveNextAsync().ConfigureAwait(false);
                    }
                    catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                    {
                        var stalled = stall.IsCancellationRequested && ex is OperationCanceledException ? limit : (TimeSpan?)null;
                        failure = EndpointErrors.Classify(ex, _model.Name, endpoint, _settings.Secrets, stalled, midStream: yielded);
                        break;
                    }

                    stall.CancelAfter(Timeout.InfiniteTimeSpan);
                    if (!more)
                    {
                        break;
                    }

                    started = true;
                    var update = e.Current;
                    finished |= update.FinishReason is not null;
                    reason = update.FinishReason ?? reason;
                    calls.Clear();
                    foreach (var content in update.Contents)
                    {
                        if (content is UsageContent u)
                        {
                            usage = u.Details; // the usage chunk comes after the finish reason, with no choices
                        }
                        else if (content is FunctionCallContent call)
                        {
                            calls.Add(call); // the SDK assembles a call's streamed pieces and hands it over whole, with the finish reason
                        }
                    }

                    if (calls.Count > 0)
                    {
                        var before = filter.Flush();
                        if (before.Length > 0)
                        {
                            yield return before;
                        }

                        yielded = true;
                        foreach (var call in calls)
                        {
                            yield return new GenerationUpdate(call);
                        }
                    }

                    var text = update.Text;
                    if (text.Length > 0)
                    {
                        var emit = filter.Push(text);
                        if (emit.Length > 0)
                        {
                            yielded = true;
                            yield return emit;
                        }

                        if (filter.Stopped)
                        {
                            // Cut here by a stop sequence the server was not told about: closing the stream stops the server, which
                            // therefore never sends its usage (unknown, not zero).
                            yield return new GenerationOutcome(GenerationFinishReason.StopSequence, null, null, null);
                            yield break;
                        }
                    }
                }
            }
            finally
            {
                await DisposeQuietlyAsync(e).ConfigureAwait(false);
            }

            if (finished)
            {
                failure = null; // the server had sent its finish reason: only the stream's closing was lost, nothing of the answer
            }

            if (failure is null && !finished)
            {
                // A stream that ends without a finish reason was cut short (a proxy or server dropped it cleanly).
                failure = new ModelEndpointException(_model.Name, endpoint.Url, EndpointFailureKind.ConnectionLost, null,
                    $"Model '{_model.Name}': the stream from endpoint {endpoint.Url} ended before the server finished the response (no finish_reason)");
            }

            if (failure is null)
            {
                var rest = filter.Flush();
                if (rest.Length > 0)
                {
                    yield return rest;
                }

                yield return ToOutcome(reason, usage);
                yield break;
            }

            failures.Add(failure);
            if (yielded || !EndpointErrors.ShouldFailOver(failure) || i == _endpoints.Length - 1)
            {
                break;
            }

            if (failure.Kind == EndpointFailureKind.CircuitOpen)
            {
                OpenAILog.Skipped(_logger, _model.Name, endpoint.Url, endpoint.Health.BreakDuration.TotalSeconds);
            }
            else
            {
                OpenAILog.FailingOver(_logger, _model.Name, endpoint.Url, failure.Kind, failure.Message);
            }
        }

        var error = Combine(failures);
        OpenAILog.CallFailed(_logger, _model.Name, error.Message);
        throw error;
    }

    /// <summary>
    /// The server's figures: <c>length</c> is <see cref="GenerationFinishReason.MaxTokens"/>; <c>tool_calls</c> is
    /// <see cref="GenerationFinishReason.ToolCalls"/>; <c>stop</c> and anything else the server ends with itself (<c>content_filter</c>,
    /// or none in a stream cut after the text) are <see cref="GenerationFinishReason.EndOfSequence"/> (a server does not say whether it
    /// stopped at a stop sequence).
    /// Without <c>usage</c> every count is null; without <c>prompt_tokens_details.cached_tokens</c> the cached count is 0.
    /// </summary>
    internal static GenerationOutcome ToOutcome(ChatFinishReason? reason, UsageDetails? usage)
    {
        var finish = reason == ChatFinishReason.Length ? GenerationFinishReason.MaxTokens
            : reason == ChatFinishReason.ToolCalls ? GenerationFinishReason.ToolCalls
            : GenerationFinishReason.EndOfSequence;
        return usage is null
            ? new GenerationOutcome(finish, null, null, null)
            : new GenerationOutcome(finish, ToInt(usage.InputTokenCount), ToInt(usage.OutputTokenCount), ToInt(usage.CachedInputTokenCount) ?? 0);
    }

    private static int? ToInt(long? count) => count is { } c ? (int)Math.Clamp(c, 0, int.MaxValue) : null;

    private ChatOptions ToChatOptions(GenerationOptions options)
    {
        var greedy = options.IsGreedy;
        var stops = options.StopSequences is { Count: > 0 } s ? s.Where(x => x.Length > 0).Take(MaxRemoteStops).ToList() : null;
        return new ChatOptions
        {
            // A constrained value ends when complete: without a call's own limit, the server's context bounds it.
            MaxOutputTokens = options.MaxTokens ?? (options.ConstrainsWholeOutput ? null : _defaultMaxTokens),
            Temperature = greedy ? 0f : (float?)options.Temperature,
            TopP = greedy ? null : (float?)options.TopP,
            Seed = options.Seed,
            StopSequences = stops is { Count: > 0 } ? stops : null,
            ResponseFormat = options.ResponseFormat,
            Tools = options.Tools,
            ToolMode = options.Tools is { Count: > 0 } ? options.ToolMode : null,
            RawRepresentationFactory = options.ResponseFormat is ChatResponseFormatJson { Schema: { } schema } json ? _ => StrictSchema(json, schema) : null,
        };
    }

    /// <summary>
    /// A schema goes out as <c>json_schema</c> with <c>strict: true</c>, so the server enforces it as a local model does. Set on the SDK's
    /// own options because M.E.AI's <c>strict</c> switch (ChatOptions.AdditionalProperties) would also make every tool strict.
    /// </summary>
    private static ChatCompletionOptions StrictSchema(ChatResponseFormatJson json, JsonElement schema) => new()
    {
        ResponseFormat = OpenAI.Chat.ChatResponseFormat.CreateJsonSchemaFormat(
            SchemaName(json.SchemaName), BinaryData.FromString(schema.GetRawText()), json.SchemaDescription, jsonSchemaIsStrict: true),
    };

    /// <summary>OpenAI requires a schema name of letters, digits, '_' and '-' (at most 64); others are replaced by '_'.</summary>
    private static string SchemaName(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "response";
        }

        var chars = name.Length > 64 ? name[..64].ToCharArray() : name.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (!char.IsAsciiLetterOrDigit(chars[i]) && chars[i] is not ('_' or '-'))
            {
                chars[i] = '_';
            }
        }

        return new string(chars);
    }

    private ModelEndpointException Combine(List<ModelEndpointException> failures)
    {
        if (failures.Count == 1)
        {
            return failures[0];
        }

        var prefix = $"Model '{_model.Name}': ";
        var parts = failures.Select(f => $"{f.Endpoint}: {(f.Message.StartsWith(prefix, StringComparison.Ordinal) ? f.Message[prefix.Length..] : f.Message)}");
        return new ModelEndpointException(_model.Name, $"Model '{_model.Name}': every endpoint failed ({failures.Count}): {string.Join(" | ", parts)}", failures);
    }

    private static async ValueTask DisposeQuietlyAsync(IAsyncEnumerator<ChatResponseUpdate> e)
    {
        try
        {
            await e.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException or OperationCanceledException or ObjectDisposedException)
        {
            // Closing a broken or cancelled stream; the call's outcome is already decided.
        }
    }
}
