using System.Runtime.CompilerServices;
using System.Threading.Channels;
using LLama;
using LLama.Abstractions;
using LLama.Batched;
using LLama.Native;
using LLama.Sampling;
using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>Decodes every concurrent request on one model together, one batch per step, on a single loop.</summary>
/// <remarks>
/// LLamaSharp serialises every decode behind a process-wide lock, so separate executors get slower, not faster; batching the
/// requests' sequences into one decode is the only way concurrent callers gain throughput. The loop alone touches the
/// executor and its context (neither is thread-safe); callers only enqueue requests and read their output channels.
/// </remarks>
internal sealed class BatchedGenerator : IAsyncDisposable
{
    private readonly string _modelName;
    private readonly LLamaWeights _weights;
    private readonly BatchedExecutor _executor;
    private readonly int _parallel;
    private readonly ILogger _logger;
    private readonly PromptCache? _cache;
    private readonly Channel<Request> _queue = Channel.CreateUnbounded<Request>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    // Conversations finished while their tokens still wait in the executor's batch: disposing them then would release
    // their sequence id for reuse inside the same batch, which llama.cpp rejects (InvalidInputBatch). Disposed after Infer.
    private readonly List<Conversation> _retiring = [];

    private BatchedGenerator(string modelName, LLamaWeights weights, BatchedExecutor executor, int contextPerSequence, int parallel, PromptCache? cache, ILogger logger)
    {
        _cache = cache;
        _modelName = modelName;
        _weights = weights;
        _executor = executor;
        ContextPerSequence = contextPerSequence;
        _parallel = parallel;
        _logger = logger;
        _loop = Task.Run(RunAsync);
    }

    /// <summary>Tokens one request may hold: prompt plus generated.</summary>
    public int ContextPerSequence { get; }

    /// <summary>Creates the context and starts the loop; finished sequences are saved to <paramref name="cache"/> and found there again (null: no prompt cache).</summary>
    public static BatchedGenerator Create(string modelName, LLamaWeights weights, IContextParams parameters, int contextPerSequence, int parallel, PromptCache? cache, ILogger logger)
    {
        var executor = new BatchedExecutor(weights, parameters);
        if (executor.Context.NativeHandle.IsInvalid)
        {
            // llama.cpp returns an invalid handle instead of failing when it cannot allocate the KV cache; using it would crash.
            executor.Dispose();
            throw new ModelLoadException(modelName,
                $"llama.cpp could not create a context of {parameters.ContextSize} tokens for model '{modelName}' " +
                $"(context_length {contextPerSequence} × parallel {parallel}); lower context_length or parallel.");
        }

        return new BatchedGenerator(modelName, weights, executor, contextPerSequence, parallel, cache, logger);
    }

    /// <summary>Streams the text generated after <paramref name="prompt"/>, then one <see cref="GenerationOutcome"/>.</summary>
    /// <remarks>
    /// Counts: prompt tokens are exactly the tokens evaluated; generated tokens are the sampled tokens fed back or ended on,
    /// including the one that completed a stop sequence; an end-of-generation token is not emitted as text and not counted.
    /// </remarks>
    /// <param name="prompt">The prompt's tokens.</param>
    /// <param name="options">The request's settings, defaults applied.</param>
    /// <param name="constraint">The grammar the output must match, or null. When it constrains the whole output (<see cref="GenerationOptions.ConstrainsWholeOutput"/>),
    /// an unset <c>max_tokens</c> means "until the value is complete" (bounded by the context), not <see cref="GenerationDefaults.MaxTokens"/>.</param>
    /// <param name="cancellationToken">Stops the request at the next step.</param>
    public async IAsyncEnumerable<GenerationUpdate> GenerateAsync(LLamaToken[] prompt, GenerationOptions options, OutputConstraint? constraint,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (prompt.Length == 0)
        {
            throw new ArgumentException($"The prompt for model '{_modelName}' is empty.", nameof(prompt));
        }

        if (prompt.Length >= ContextPerSequence)
        {
            throw new ContextLengthExceededException(_modelName, ContextPerSequence, prompt.Length,
                $"The prompt has {prompt.Length} tokens but model '{_modelName}' has a context of {ContextPerSequence} tokens per request (context_length); shorten the prompt or raise context_length.");
        }

        var room = ContextPerSequence - prompt.Length;
        var requested = options.MaxTokens ?? (options.ConstrainsWholeOutput ? room : GenerationDefaults.MaxTokens);

        // When the context, not max_tokens, is what limits the generation, reaching the limit means the context filled.
        var limitReason = requested > room ? GenerationFinishReason.ContextFull : GenerationFinishReason.MaxTokens;
        using var request = new Request(prompt, options, constraint, Math.Min(requested, room), limitReason, cancellationToken);
        if (!_queue.Writer.TryWrite(request))
        {
            throw new ObjectDisposedException(nameof(BatchedGenerator), $"Model '{_modelName}' has been unloaded.");
        }

        try
        {
            await foreach (var piece in request.Output.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                // Buffered pieces must not outlive a cancellation (force-unload cancels between tokens).
                cancellationToken.ThrowIfCancellationRequested();
                yield return piece;
            }
        }
        finally
        {
            request.Abandon(); // the caller stopped reading: free its sequence at the next step
        }
    }

    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _cache?.Clear();
        _executor.Dispose();
        _stop.Dispose();
    }

    private async Task RunAsync()
    {
        var active = new List<Active>();
        try
        {
            while (true)
            {
                Admit(active);
                for (var i = active.Count - 1; i >= 0; i--)
                {
                    if (active[i].Request.IsCancelled)
                    {
                        Finish(active, i, new OperationCanceledException(active[i].Request.Token));
                    }
                }

                if (active.Count == 0 && _retiring.Count == 0)
                {
                    if (!await _queue.Reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
                    {
                        return;
                    }

                    continue;
                }

                if (active.Exists(a => a.Conversation.RequiresInference) || _retiring.Count > 0)
                {
                    var queued = _executor.BatchedTokenCount > 0 || _executor.BatchQueueCount > 0;
                    var result = queued ? await _executor.Infer(_stop.Token).ConfigureAwait(false) : DecodeResult.Ok;
                    RetireFinished(force: !queued);
                    if (result != DecodeResult.Ok)
                    {
                        var error = new InvalidOperationException($"llama.cpp decode failed for model '{_modelName}': {result}.");
                        for (var i = active.Count - 1; i >= 0; i--)
                        {
                            Finish(active, i, error);
                        }

                        continue;
                    }
                }

                for (var i = active.Count - 1; i >= 0; i--)
                {
                    var a = active[i];
                    if (a.Conversation.RequiresSampling)
                    {
                        Step(active, i);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            LlamaSharpLog.GeneratorFailed(_logger, _modelName, e);
            for (var i = active.Count - 1; i >= 0; i--)
            {
                Finish(active, i, e);
            }
        }
        finally
        {
            var gone = new ObjectDisposedException(nameof(BatchedGenerator), $"Model '{_modelName}' was unloaded.");
            for (var i = active.Count - 1; i >= 0; i--)
            {
                Finish(active, i, gone);
            }

            while (_queue.Reader.TryRead(out var left))
            {
                left.Output.Writer.TryComplete(gone);
            }

            foreach (var conversation in _retiring)
            {
                conversation.Dispose();
            }

            _retiring.Clear();
        }
    }

    private void Admit(List<Active> active)
    {
        while (active.Count + _retiring.Count < _parallel && _queue.Reader.TryRead(out var request))
        {
            if (request.IsCancelled)
            {
                request.Output.Writer.TryComplete(new OperationCanceledException(request.Token));
                continue;
            }

            Conversation? conversation = null;
            try
            {
                (conversation, var reused) = Start(request.Prompt, request.Options.ConversationId);
                active.Add(new Active(request, conversation, CreatePipeline(request.Options, request.Constraint), new StreamingTokenDecoder(_executor.Context) { DecodeSpecialTokens = request.Constraint is not null },
                    new StopSequenceFilter(request.Options.StopSequences), reused));
            }
            catch (Exception e)
            {
                conversation?.Dispose();
                request.Output.Writer.TryComplete(e);
            }
        }
    }

    /// <summary>
    /// A sequence prompted with <paramref name="prompt"/>: the saved sequence sharing its longest prefix, loaded and cut back
    /// to that prefix, or a new one; and how many prompt tokens came from the cache (never the last, which is evaluated for its logits).
    /// </summary>
    private (Conversation Conversation, int Reused) Start(LLamaToken[] prompt, string? key)
    {
        var (entry, common) = _cache?.Match(prompt, key) ?? default;
        var reused = Math.Min(common, prompt.Length - 1);
        if (reused < PromptCache.MinReuse)
        {
            (reused, entry) = (0, null);
        }

        _cache?.Record(entry, reused);
        if (entry is null || reused == 0)
        {
            var fresh = _executor.Create();
            fresh.Prompt(prompt);
            return (fresh, 0);
        }

        var conversation = _executor.Create();
        if (!LoadState(conversation, entry))
        {
            _cache!.Remove(entry); // llama.cpp refused it: never offer it again
            conversation.Prompt(prompt);
            return (conversation, 0);
        }

        var (keep, end) = (reused, entry.Tokens.Length);
        conversation.Modify((_, kv) =>
        {
            kv.Remove(keep, (LLamaPos)end);
            return keep;
        });
        conversation.Prompt(prompt.AsSpan(reused));
        return (conversation, reused);
    }

    private void Step(List<Active> active, int index)
    {
        var a = active[index];
        var token = a.Conversation.Sample(a.Pipeline, 0);
        if (token.IsEndOfGeneration(_weights.Vocab))
        {
            Finish(active, index, GenerationFinishReason.EndOfSequence);
            return;
        }

        a.Decoder.Add(token);
        var emit = a.Filter.Push(a.Decoder.Read());
        if (emit.Length > 0)
        {
            a.Request.Output.Writer.TryWrite(emit);
        }

        a.Generated++;
        if (a.Filter.Stopped)
        {
            Finish(active, index, GenerationFinishReason.StopSequence);
            return;
        }

        if (a.Generated >= a.Request.MaxTokens)
        {
            Finish(active, index, a.Request.LimitReason);
            return;
        }

        a.Conversation.Prompt(token);
        a.Fed.Add(token);
    }

    private void RetireFinished(bool force)
    {
        for (var i = _retiring.Count - 1; i >= 0; i--)
        {
            if (force || !_retiring[i].RequiresInference)
            {
                _retiring[i].Dispose();
                _retiring.RemoveAt(i);
            }
        }
    }

    private void Finish(List<Active> active, int index, Exception error) => End(active, index, default, error);

    private void Finish(List<Active> active, int index, GenerationFinishReason reason) => End(active, index, reason, null);

    /// <summary>Ends a request: on success flushes its held-back text, then writes its one outcome.</summary>
    private void End(List<Active> active, int index, GenerationFinishReason reason, Exception? error)
    {
        var a = active[index];
        active.RemoveAt(index);
        var retire = a.Conversation.RequiresInference && !_stop.IsCancellationRequested;
        if (error is null)
        {
            if (_cache is not null && !retire && !_stop.IsCancellationRequested)
            {
                // Saved before the caller hears the outcome, so its next turn (and the stats it reads) find it. The KV holds
                // the prompt and every generated token fed back, not the last one sampled.
                if (SaveState(a.Conversation, _cache.MaxBytes) is { } state)
                {
                    _cache.Add([.. a.Request.Prompt, .. a.Fed], state, a.Request.Options.ConversationId);
                }
            }

            var rest = a.Filter.Flush();
            if (rest.Length > 0)
            {
                a.Request.Output.Writer.TryWrite(rest);
            }

            a.Request.Output.Writer.TryWrite(new GenerationOutcome(reason, a.Request.Prompt.Length, a.Generated, a.Reused));
        }

        a.Request.Output.Writer.TryComplete(error);
        if (retire)
        {
            _retiring.Add(a.Conversation);
        }
        else
        {
            a.Conversation.Dispose();
        }

        (a.Pipeline as IDisposable)?.Dispose();
    }

    /// <summary>llama.cpp's state of one sequence (the KV cells of its tokens), or null when it is larger than <paramref name="maxBytes"/>.</summary>
    private unsafe byte[]? SaveState(Conversation conversation, long maxBytes)
    {
        var handle = _executor.Context.NativeHandle;
        var size = handle.GetStateSize(conversation.ConversationId);
        if (size > (ulong)Math.Min(maxBytes, Array.MaxLength))
        {
            return null;
        }

        var state = GC.AllocateUninitializedArray<byte>((int)size);
        fixed (byte* p = state)
        {
            var written = handle.GetState(p, (nuint)state.Length, conversation.ConversationId);
            return written == (nuint)state.Length ? state : state[..(int)written];
        }
    }

    /// <summary>Loads a saved state into a new, empty sequence; false when llama.cpp does not accept it or it does not hold the entry's tokens.</summary>
    private unsafe bool LoadState(Conversation conversation, PromptCache.Entry entry)
    {
        var handle = _executor.Context.NativeHandle;
        nuint read;
        fixed (byte* p = entry.State)
        {
            read = handle.SetState(p, (nuint)entry.State.Length, conversation.ConversationId);
        }

        if (read != (nuint)entry.State.Length || handle.MemorySequenceMaxPosition(conversation.ConversationId).Value != entry.Tokens.Length - 1)
        {
            handle.MemorySequenceRemove(conversation.ConversationId, -1, -1);
            return false;
        }

        var count = entry.Tokens.Length;
        conversation.Modify((_, _) => count);
        return true;
    }

    private static ISamplingPipeline CreatePipeline(GenerationOptions options, OutputConstraint? constraint)
    {
        var sampling = SamplingSettings.From(options);
        if (constraint is not null)
        {
            return new GrammarSamplingPipeline(constraint, sampling);
        }

        if (sampling is not { } s)
        {
            return new GreedySamplingPipeline();
        }

        return new DefaultSamplingPipeline { Temperature = s.Temperature, TopP = s.TopP, TopK = s.TopK, Seed = s.Seed };
    }

    private sealed class Request(LLamaToken[] prompt, GenerationOptions options, OutputConstraint? constraint, int maxTokens, GenerationFinishReason limitReason, CancellationToken cancellationToken) : IDisposable
    {
        private readonly CancellationTokenSource _abandon = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        public LLamaToken[] Prompt { get; } = prompt;

        public GenerationOptions Options { get; } = options;

        public OutputConstraint? Constraint { get; } = constraint;

        public int MaxTokens { get; } = maxTokens;

        /// <summary>Why generation ends when <see cref="MaxTokens"/> are reached: max_tokens, or the context clipped them.</summary>
        public GenerationFinishReason LimitReason { get; } = limitReason;

        public CancellationToken Token { get; } = cancellationToken;

        public Channel<GenerationUpdate> Output { get; } = Channel.CreateUnbounded<GenerationUpdate>(new UnboundedChannelOptions { SingleWriter = true, SingleReader = true });

        public bool IsCancelled => _abandon.IsCancellationRequested;

        public void Abandon()
        {
            try
            {
                _abandon.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Dispose() => _abandon.Dispose();
    }

    private sealed class Active(Request request, Conversation conversation, ISamplingPipeline pipeline, StreamingTokenDecoder decoder, StopSequenceFilter filter, int reused)
    {
        /// <summary>Prompt tokens the cache supplied.</summary>
        public int Reused { get; } = reused;

        /// <summary>Generated tokens fed back into the sequence, in order.</summary>
        public List<LLamaToken> Fed { get; } = [];

        public Request Request { get; } = request;

        public Conversation Conversation { get; } = conversation;

        public ISamplingPipeline Pipeline { get; } = pipeline;

        public StreamingTokenDecoder Decoder { get; } = decoder;

        public StopSequenceFilter Filter { get; } = filter;

        public int Generated { get; set; }
    }
}
