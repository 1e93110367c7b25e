using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager;

/// <summary>One loaded ONNX Runtime GenAI model: a shared Model and Tokenizer, a Generator per request.</summary>
/// <remarks>
/// Thread-safe: up to <c>parallel</c> requests generate at once, each on its own thread with its own Generator; others wait
/// for a slot. Native objects are reference counted: the Model and Tokenizer are destroyed, and the process-wide runtime
/// reference released, only when the model is disposed and its last generation has ended, so no Generator outlives them.
/// </remarks>
internal sealed class OnnxGenAIModel : IModelInstance
{
    private const string EmptyTemplateMessage = "Empty chat template";
    private static readonly string[] PlainStops = ["\nUser:", "\nSystem:"];

    private readonly ModelDescriptor _model;
    private readonly OnnxModelFolder _folder;
    private readonly OnnxGenAIModelSettings _settings;
    private readonly Model _native;
    private readonly Tokenizer _tokenizer;
    private readonly IDisposable _runtime;
    private readonly SemaphoreSlim _slots;
    private readonly HashSet<int> _eos;
    private readonly Lock _templateGate = new();
    private int _references = 1;
    private int _disposed;
    private int _running;
    private int _peakRunning;

    private OnnxGenAIModel(
        ModelDescriptor model, OnnxModelFolder folder, OnnxGenAIModelSettings settings, Model native, Tokenizer tokenizer,
        IDisposable runtime, OnnxChatFormat chatFormat, long memoryBytes)
    {
        _model = model;
        _folder = folder;
        _settings = settings;
        _native = native;
        _tokenizer = tokenizer;
        _runtime = runtime;
        _slots = new SemaphoreSlim(settings.Parallel, settings.Parallel);
        _eos = [.. folder.EosTokenIds];
        ChatFormat = chatFormat;
        MemoryBytes = memoryBytes;
    }

    /// <summary>The process's measured growth across the native load, never below the ONNX files' size.</summary>
    public long MemoryBytes { get; }

    /// <summary>How chat messages become a prompt.</summary>
    internal OnnxChatFormat ChatFormat { get; }

    /// <summary>Generations running now.</summary>
    internal int ActiveGenerations => _settings.Parallel - _slots.CurrentCount;

    /// <summary>The most generations that have run at once since the model loaded.</summary>
    internal int PeakGenerations => Volatile.Read(ref _peakRunning);

    /// <summary>True once the native objects have been destroyed.</summary>
    internal bool IsReleased => Volatile.Read(ref _references) == 0;

    /// <summary>Creates the native objects for <paramref name="model"/>; the caller holds <see cref="OgaRuntime.LoadGate"/> so the measured growth is this load's.</summary>
    /// <exception cref="ModelLoadException">ONNX Runtime GenAI refused the model, a provider or the configured chat template; carries its message.</exception>
    public static OnnxGenAIModel Load(ModelDescriptor model, OnnxModelFolder folder, OnnxGenAIModelSettings settings, ILogger logger)
    {
        var runtime = OgaRuntime.Acquire();
        Config? config = null;
        Model? native = null;
        Tokenizer? tokenizer = null;
        var stage = $"reading {OnnxModelFolder.ConfigFileName}";
        var started = Stopwatch.GetTimestamp();
        try
        {
            var before = Environment.WorkingSet;
            config = new GuardedConfig(folder.Directory);
            config.ClearProviders();
            foreach (var provider in settings.Providers)
            {
                stage = $"appending execution provider '{provider}'";
                config.AppendProvider(provider);
            }

            if (settings.ContextLength < folder.ContextLength)
            {
                // ONNX Runtime then enforces the shorter context itself, and sizes any preallocated KV buffers to it.
                config.Overlay("{\"model\":{\"context_length\":" + settings.ContextLength.ToString(CultureInfo.InvariantCulture) + "}}");
            }

            stage = settings.Providers.Count == 0
                ? $"loading {Path.GetFileName(folder.Files[0].Path)}"
                : $"loading {Path.GetFileName(folder.Files[0].Path)} with providers [{string.Join(", ", settings.Providers)}]";
            native = new GuardedModel(config);
            stage = "loading the tokenizer (tokenizer.json, tokenizer_config.json)";
            tokenizer = new GuardedTokenizer(native);
            var growth = Environment.WorkingSet - before;

            stage = "applying the configured chat_template";
            var chat = ResolveChatFormat(model, settings, tokenizer, logger);
            var memory = Math.Max(growth, folder.OnnxBytes);
            config.Dispose();
            var instance = new OnnxGenAIModel(model, folder, settings, native, tokenizer, runtime, chat, memory);
            OnnxGenAILog.Loaded(logger, model.Name, folder.ModelType, Stopwatch.GetElapsedTime(started).TotalMilliseconds, settings.ContextLength, settings.Parallel,
                string.Join(", ", settings.Providers), chat, growth / 1048576.0, folder.OnnxBytes / 1048576.0);
            return instance;
        }
        catch (Exception e)
        {
            tokenizer?.Dispose();
            native?.Dispose();
            config?.Dispose();
            runtime.Dispose();
            if (e is OnnxRuntimeGenAIException)
            {
                throw new ModelLoadException(model.Name,
                    $"ONNX Runtime GenAI could not load model '{model.Name}' from {folder.Directory} while {stage}: {e.Message}", e);
            }

            throw;
        }
    }

    public async IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var ids = Encode(prompt);
        await foreach (var piece in GenerateTextAsync(ids, options, cancellationToken).ConfigureAwait(false))
        {
            yield return piece;
        }
    }

    public async IAsyncEnumerable<string> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var prompt = FormatChat(messages);
        if (ChatFormat == OnnxChatFormat.Plain)
        {
            options = options with { StopSequences = [.. options.StopSequences ?? [], .. PlainStops] };
        }

        var ids = Encode(prompt);
        await foreach (var piece in GenerateTextAsync(ids, options, cancellationToken).ConfigureAwait(false))
        {
            yield return piece;
        }
    }

    /// <summary>Tokenizes <paramref name="text"/> with the model's tokenizer.</summary>
    internal int[] Encode(string text)
    {
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

    /// <summary>The chat prompt the model would see for <paramref name="messages"/>, for tests and diagnostics.</summary>
    internal string FormatChat(IReadOnlyList<ChatMessage> messages) => ChatFormat == OnnxChatFormat.Plain
        ? string.Concat(messages.Select(m => $"{Capitalize(m.Role.Value)}: {m.Text}\n")) + "Assistant:"
        : ApplyTemplate(ChatFormat == OnnxChatFormat.ConfiguredTemplate ? _settings.ChatTemplate : null, ToJson(messages));

    /// <summary>Generates token by token after <paramref name="prompt"/>; ends at EOS, <c>max_tokens</c> or the context.</summary>
    /// <exception cref="ArgumentException">The prompt is empty, holds ids outside the vocabulary, or leaves no room in the context.</exception>
    internal async IAsyncEnumerable<GeneratedToken> GenerateTokensAsync(int[] prompt, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var maxLength = CheckPrompt(prompt, options);
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
        var channel = Channel.CreateUnbounded<GeneratedToken>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Factory.StartNew(
            () => Produce(prompt, options, maxLength, channel.Writer, stop.Token, cancellationToken),
            CancellationToken.None, TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
        try
        {
            await foreach (var token in channel.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                // Buffered tokens must not outlive a cancellation (a force-unload cancels between tokens).
                cancellationToken.ThrowIfCancellationRequested();
                yield return token;
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

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Exit();
        }

        return ValueTask.CompletedTask;
    }

    private async IAsyncEnumerable<string> GenerateTextAsync(int[] prompt, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var filter = new StopSequenceFilter(options.StopSequences);
        await foreach (var token in GenerateTokensAsync(prompt, options, cancellationToken).ConfigureAwait(false))
        {
            var emit = filter.Push(token.Text);
            if (emit.Length > 0)
            {
                yield return emit;
            }

            if (filter.Stopped)
            {
                yield break;
            }
        }

        var rest = filter.Flush();
        if (rest.Length > 0)
        {
            yield return rest;
        }
    }

    /// <summary>Checks the prompt in managed code, so ONNX Runtime never sees an id it cannot embed; returns max_length.</summary>
    private int CheckPrompt(int[] prompt, GenerationOptions options)
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
            throw new ArgumentException(
                $"The prompt has {prompt.Length} tokens but model '{_model.Name}' has a context of {context} tokens per request (context_length), " +
                "which must also hold at least one generated token; shorten the prompt or raise context_length.",
                nameof(prompt));
        }

        var maxTokens = options.MaxTokens ?? _settings.DefaultMaxTokens;
        return (int)Math.Min((long)prompt.Length + Math.Max(maxTokens, 0), context);
    }

    private void Produce(int[] prompt, GenerationOptions options, int maxLength, ChannelWriter<GeneratedToken> writer, CancellationToken stop, CancellationToken caller)
    {
        Exception? error = null;
        var running = Interlocked.Increment(ref _running);
        for (var peak = Volatile.Read(ref _peakRunning); running > peak; peak = Volatile.Read(ref _peakRunning))
        {
            Interlocked.CompareExchange(ref _peakRunning, running, peak);
        }

        try
        {
            if (maxLength <= prompt.Length)
            {
                return; // max_tokens 0
            }

            using var parameters = new GuardedGeneratorParams(_native);
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

            using var generator = new GuardedGenerator(_native, parameters);
            using var stream = _tokenizer.CreateStream();
            stop.ThrowIfCancellationRequested();
            generator.AppendTokens(prompt);
            while (!generator.IsDone())
            {
                stop.ThrowIfCancellationRequested();
                generator.GenerateNextToken();
                var id = generator.GetNextTokens()[0];
                if (_eos.Contains(id))
                {
                    break;
                }

                writer.TryWrite(new GeneratedToken(id, stream.Decode(id)));
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            error = new OperationCanceledException(caller.IsCancellationRequested ? caller : stop);
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
            writer.TryComplete(error);
            _slots.Release();
            Exit();
        }
    }

    private string ApplyTemplate(string? template, string messagesJson)
    {
        Enter();
        try
        {
            // Only Encode is documented as safe to call concurrently; templating is rare and quick, so serialise it.
            lock (_templateGate)
            {
                return _tokenizer.ApplyChatTemplate(template!, messagesJson, null!, true);
            }
        }
        catch (OnnxRuntimeGenAIException e)
        {
            throw new InvalidOperationException($"The chat template of model '{_model.Name}' failed: {e.Message}", e);
        }
        finally
        {
            Exit();
        }
    }

    private static OnnxChatFormat ResolveChatFormat(ModelDescriptor model, OnnxGenAIModelSettings settings, Tokenizer tokenizer, ILogger logger)
    {
        var probe = ToJson([new ChatMessage(ChatRole.System, "s"), new ChatMessage(ChatRole.User, "u")]);
        if (settings.ChatTemplate is { } configured)
        {
            // A configured template overrides the tokenizer's, as in the gguf backend; a broken one fails the load.
            try
            {
                tokenizer.ApplyChatTemplate(configured, probe, null!, true);
                return OnnxChatFormat.ConfiguredTemplate;
            }
            catch (OnnxRuntimeGenAIException e)
            {
                throw new ModelLoadException(model.Name, $"{model.ConfigPath}.chat_template of model '{model.Name}' cannot be applied: {e.Message}", e);
            }
        }

        try
        {
            tokenizer.ApplyChatTemplate(null!, probe, null!, true);
            return OnnxChatFormat.TokenizerTemplate;
        }
        catch (OnnxRuntimeGenAIException e)
        {
            // gpt2-style tokenizers have no template: ORT says "Empty chat template." and the plain format is the documented answer.
            if (!e.Message.Contains(EmptyTemplateMessage, StringComparison.OrdinalIgnoreCase))
            {
                OnnxGenAILog.TokenizerTemplateUnusable(logger, model.Name, e.Message);
            }

            return OnnxChatFormat.Plain;
        }
    }

    private static string ToJson(IEnumerable<ChatMessage> messages)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var m in messages)
            {
                json.WriteStartObject();
                json.WriteString("role", m.Role.Value);
                json.WriteString("content", m.Text);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private void Enter()
    {
        while (true)
        {
            var current = Volatile.Read(ref _references);
            if (current == 0 || Volatile.Read(ref _disposed) != 0)
            {
                throw new ObjectDisposedException(nameof(OnnxGenAIModel), $"Model '{_model.Name}' has been unloaded.");
            }

            if (Interlocked.CompareExchange(ref _references, current + 1, current) == current)
            {
                return;
            }
        }
    }

    private void Exit()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            _tokenizer.Dispose();
            _native.Dispose();
            _runtime.Dispose();
        }
    }

    private static string Capitalize(string role) => role.Length == 0 ? role : char.ToUpperInvariant(role[0]) + role[1..];
}
