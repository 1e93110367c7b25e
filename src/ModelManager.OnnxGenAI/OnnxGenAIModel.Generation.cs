using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager;

// Generation: prompts checked in managed code, a Generator per request on one of the model's generation threads, tokens through a channel.
internal sealed partial class OnnxGenAIModel
{
    public async IAsyncEnumerable<GenerationUpdate> GenerateAsync(string prompt, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var ids = Encode(prompt);
        await foreach (var update in GenerateTextAsync(ids, options, cancellationToken).ConfigureAwait(false))
        {
            yield return update;
        }
    }

    /// <summary>The most UTF-8 bytes one token is assumed to stand for, to reject a prompt by its size before tokenizing it (256).</summary>
    internal const int MaxBytesPerToken = 256;

    /// <summary>Tokenizes <paramref name="text"/> with the model's tokenizer.</summary>
    /// <exception cref="ArgumentException">The text is so long that it cannot fit the context even at <see cref="MaxBytesPerToken"/> bytes per token; rejected before tokenizing, so a huge prompt costs no memory.</exception>
    internal int[] Encode(string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetByteCount(text);
        if (bytes > (long)_settings.ContextLength * MaxBytesPerToken)
        {
            throw new ContextLengthExceededException(_model.Name, _settings.ContextLength, null,
                $"The prompt for model '{_model.Name}' is {bytes} bytes, more than {_settings.ContextLength} tokens (context_length) can hold at {MaxBytesPerToken} bytes per token; shorten the prompt or raise context_length.");
        }

        Enter();
        try
        {
            using var sequences = _tokenizer.Encode(text);
            return sequences[0].ToArray();
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Generates token by token after <paramref name="prompt"/>; ends at EOS, <c>max_tokens</c> or the context.</summary>
    /// <exception cref="ArgumentException">The prompt is empty, holds ids outside the vocabulary, or leaves no room in the context.</exception>
    internal IAsyncEnumerable<GeneratedToken> GenerateTokensAsync(int[] prompt, GenerationOptions options, CancellationToken cancellationToken = default) =>
        GenerateTokensAsync(prompt, options, new GenerationEnd(), cancellationToken);

    /// <summary>As the overload above; once the stream has ended without an error, <paramref name="end"/> holds why it ended.</summary>
    private async IAsyncEnumerable<GeneratedToken> GenerateTokensAsync(int[] prompt, GenerationOptions options, GenerationEnd end, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var guidance = GuidanceFor(options);
        var maxLength = CheckPrompt(prompt, options, out var limitReason);
        Enter();
        var handedOver = false;
        try
        {
            await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
            handedOver = true;
        }
        finally
        {
            if (!handedOver)
            {
                Exit();
            }
        }

        // From here the producer owns the slot and the reference, and releases both when its Generator is gone,
        // even if this enumerator is abandoned without being disposed.
        var channel = Channel.CreateUnbounded<List<GeneratedToken>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var produced = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _threads.Run(() =>
        {
            try
            {
                Produce(prompt, options, guidance, maxLength, limitReason, end, channel.Writer, stop.Token, cancellationToken);
                return produced.SetResult;
            }
            catch (Exception e)
            {
                return () => produced.SetException(e); // seen by the consumer's finally, as a task's exception would be
            }
        });
        var producer = produced.Task;
        try
        {
            await foreach (var batch in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                foreach (var token in batch)
                {
                    // Buffered tokens must not outlive a cancellation (a force-unload cancels between tokens).
                    cancellationToken.ThrowIfCancellationRequested();
                    yield return token;
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await producer.ConfigureAwait(false); // never throws: errors travel through the channel
            stop.Dispose();
        }
    }

    /// <summary>Streams the text generated after <paramref name="prompt"/>, then one <see cref="GenerationOutcome"/>.</summary>
    /// <remarks>
    /// Counts: prompt tokens are exactly the ids appended to the Generator; generated tokens are every token sampled,
    /// including the one that completed a stop sequence; an end-of-sequence token is not emitted as text and not counted.
    /// </remarks>
    private async IAsyncEnumerable<GenerationUpdate> GenerateTextAsync(int[] prompt, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var filter = new StopSequenceFilter(options.StopSequences);
        var end = new GenerationEnd();
        var generated = 0;
        await foreach (var token in GenerateTokensAsync(prompt, options, end, cancellationToken).ConfigureAwait(false))
        {
            generated++;
            var emit = filter.Push(token.Text);
            if (emit.Length > 0)
            {
                yield return emit;
            }

            if (filter.Stopped)
            {
                yield return new GenerationOutcome(GenerationFinishReason.StopSequence, prompt.Length, generated);
                yield break;
            }
        }

        var rest = filter.Flush();
        if (rest.Length > 0)
        {
            yield return rest;
        }

        yield return new GenerationOutcome(end.Reason, prompt.Length, generated);
    }

    /// <summary>Checks the prompt in managed code, so ONNX Runtime never sees an id it cannot embed; returns max_length.</summary>
    private int CheckPrompt(int[] prompt, GenerationOptions options, out GenerationFinishReason limitReason)
    {
        if (prompt.Length == 0)
        {
            throw new ArgumentException($"The prompt for model '{_model.Name}' is empty; it must hold at least one token.", nameof(prompt));
        }

        var vocab = _folder.VocabSize;
        for (var i = 0; i < prompt.Length; i++)
        {
            if ((uint)prompt[i] >= (uint)vocab)
            {
                throw new ArgumentException(
                    $"The prompt for model '{_model.Name}' holds token id {prompt[i]} (at position {i}), outside the model's vocabulary of {vocab} ids " +
                    $"(vocab_size in {OnnxModelFolder.ConfigFileName}); its tokenizer produces ids the model cannot embed, so use text the model was trained on.",
                    nameof(prompt));
            }
        }

        var context = _settings.ContextLength;
        if (prompt.Length + 1 > context)
        {
            throw new ContextLengthExceededException(_model.Name, context, prompt.Length,
                $"The prompt has {prompt.Length} tokens but model '{_model.Name}' has a context of {context} tokens per request (context_length), " +
                "which must also hold at least one generated token; shorten the prompt or raise context_length.");
        }

        // A value constrained from its first token ends when complete: only the context bounds it then.
        var maxTokens = options.MaxTokens ?? (options.ConstrainsWholeOutput ? context : _settings.DefaultMaxTokens);

        // When the context, not max_tokens, limits max_length, reaching it means the context filled.
        var wanted = (long)prompt.Length + Math.Max(maxTokens, 0);
        limitReason = wanted > context ? GenerationFinishReason.ContextFull : GenerationFinishReason.MaxTokens;
        return (int)Math.Min(wanted, context);
    }

    /// <summary>How long tokens may wait for the ones after them before they are handed to the reader: 10 ms.</summary>
    /// <remarks>
    /// Each hand-off wakes the reading thread, which on a busy 2-core machine competes with the Generator and ONNX Runtime's
    /// own threads; tiny-random-gpt2 makes a token every ~75 µs, so one wake per token was 500 per call. A token that comes
    /// 10 ms or more after the last hand-off goes at once with those waiting: a model slower than a token per 10 ms streams
    /// every token as it comes, a faster one in batches of 10 ms of tokens (the first token always at once), well under
    /// what a reader can see (a 60 Hz frame is 16.7 ms).
    /// </remarks>
    internal static readonly TimeSpan HandOffInterval = TimeSpan.FromMilliseconds(10);

    private void Produce(
        int[] prompt, GenerationOptions options, string? guidance, int maxLength, GenerationFinishReason limitReason, GenerationEnd end,
        ChannelWriter<List<GeneratedToken>> writer, CancellationToken stop, CancellationToken caller)
    {
        List<GeneratedToken>? batch = null;
        Exception? error = null;
        var running = Interlocked.Increment(ref _running);
        for (var peak = Volatile.Read(ref _peakRunning); running > peak; peak = Volatile.Read(ref _peakRunning))
        {
            Interlocked.CompareExchange(ref _peakRunning, running, peak);
        }

        try
        {
            end.Reason = limitReason;
            if (maxLength <= prompt.Length)
            {
                return; // max_tokens 0
            }

            using var parameters = new GuardedOga.GeneratorParams(_native);
            SetSearchOptions(parameters, options, maxLength);
            if (guidance is not null)
            {
                // Checked by GuidanceFor; llguidance builds the grammar with the Generator and reports a schema it rejects as an error.
                parameters.SetGuidance("json_schema", guidance);
            }

            using var generator = new GuardedOga.Generator(_native, parameters);
            using var stream = _tokenizer.CreateStream();
            stop.ThrowIfCancellationRequested();
            generator.AppendTokens(prompt);
            var generated = 0;
            var interval = (long)(HandOffInterval.TotalSeconds * Stopwatch.Frequency);
            var handedOff = 0L; // the first token goes at once
            while (!generator.IsDone())
            {
                stop.ThrowIfCancellationRequested();
                generator.GenerateNextToken();
                var id = generator.GetNextTokens()[0];
                if (_eos.Contains(id))
                {
                    end.Reason = GenerationFinishReason.EndOfSequence;
                    break;
                }

                (batch ??= []).Add(new GeneratedToken(id, stream.Decode(id)));
                generated++;
                var now = Stopwatch.GetTimestamp();
                if (now - handedOff >= interval)
                {
                    writer.TryWrite(batch);
                    batch = null;
                    handedOff = now;
                }
            }

            if (end.Reason != GenerationFinishReason.EndOfSequence && prompt.Length + generated < maxLength)
            {
                end.Reason = GenerationFinishReason.EndOfSequence; // ORT stopped on an end id of its own config before max_length
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            error = new OperationCanceledException(caller.IsCancellationRequested ? caller : stop);
        }
        catch (OnnxRuntimeGenAIException e) when (guidance is not null)
        {
            error = GuidanceError(e);
        }
        catch (OnnxRuntimeGenAIException e)
        {
            error = new InvalidOperationException($"ONNX Runtime GenAI failed while generating with model '{_model.Name}': {e.Message}", e);
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            Interlocked.Decrement(ref _running);
            if (batch is not null)
            {
                writer.TryWrite(batch); // before the error, as tokens written one by one would be
            }

            writer.TryComplete(error);
            _slots.Release();
            Exit();
        }
    }

    /// <summary>Passes the generation settings to ONNX Runtime as the search options of the same names; greedy sets only <c>do_sample</c>.</summary>
    private static void SetSearchOptions(GeneratorParams parameters, GenerationOptions options, int maxLength)
    {
        parameters.SetSearchOption("max_length", maxLength);
        var greedy = options.IsGreedy || (options.Temperature is null && options.DoSample != true);
        parameters.SetSearchOption("do_sample", !greedy);
        if (!greedy)
        {
            if (options.Temperature is { } temperature)
            {
                parameters.SetSearchOption("temperature", temperature);
            }

            if (options.TopP is { } topP)
            {
                parameters.SetSearchOption("top_p", topP);
            }

            if (options.TopK is { } topK)
            {
                parameters.SetSearchOption("top_k", topK);
            }

            if (options.Seed is { } seed)
            {
                parameters.SetSearchOption("random_seed", unchecked((int)seed) & int.MaxValue);
            }
        }
    }

    /// <summary>Why a token stream ended; written by the producer before it completes the channel, read after.</summary>
    private sealed class GenerationEnd
    {
        public GenerationFinishReason Reason { get; set; } = GenerationFinishReason.MaxTokens;
    }
}
