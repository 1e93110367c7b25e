using System.Runtime.CompilerServices;
using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>One loaded GGUF model: shared weights, one batched context, a chat template and its tool-call format.</summary>
/// <remarks>Thread-safe: requests go through <see cref="BatchedGenerator"/>, whose single loop owns the context.</remarks>
internal sealed class LlamaSharpModel : IModelInstance
{
    private static readonly string[] PlainStops = ["\nUser:", "\nSystem:"];
    private static int _live;

    private readonly string _name;
    private readonly LLamaWeights _weights;
    private readonly BatchedGenerator _generator;
    private readonly string? _chatTemplate;
    private readonly ConstraintCache _constraints;
    private readonly int _maxTokenBytes;
    private readonly PromptCache? _cache;
    private readonly PromptCacheSpill? _spill;

    private LlamaSharpModel(string name, LLamaWeights weights, BatchedGenerator generator, string? chatTemplate, long memoryBytes, int maxTokenBytes, PromptCache? cache, PromptCacheSpill? spill)
    {
        _name = name;
        _cache = cache;
        _spill = spill;
        _weights = weights;
        _generator = generator;
        _chatTemplate = chatTemplate;
        MemoryBytes = memoryBytes;
        _constraints = new ConstraintCache(name);
        _maxTokenBytes = maxTokenBytes;
        var vocab = weights.Vocab;
        ToolFormat = ToolCallFormat.Detect(chatTemplate, vocab.LLamaTokenToString(vocab.BOS, true) ?? "", vocab.LLamaTokenToString(vocab.EOS, true) ?? "");
    }

    public long MemoryBytes { get; }

    /// <summary>How this model's chat template renders tools and tool calls (the generic format when it has none).</summary>
    internal ToolCallFormat ToolFormat { get; }

    /// <summary>Models loaded and not yet disposed in this process; tests check that shutdown releases every native handle.</summary>
    internal static int LiveCount => Volatile.Read(ref _live);

    public static LlamaSharpModel Create(ModelDescriptor model, GgufModelInfo info, LlamaSharpModelSettings settings, LLamaWeights weights, ModelParams parameters, ILogger logger)
    {
        var cache = settings.PromptCache.Enabled ? new PromptCache(settings.PromptCache.Sequences, settings.PromptCache.MemoryBytes) : null;
        var spill = cache is not null && settings.PromptCache.SpillPath is { } folder
            ? new PromptCacheSpill(model.Name, folder, settings.PromptCache.SpillBytes, PromptCacheSpill.Identity(model.Path!, settings.ContextLength, settings.Parallel), logger)
            : null;
        if (spill is not null && spill.Restore(cache!, settings.ContextLength) is > 0 and var restored)
        {
            LlamaSharpLog.Restored(logger, model.Name, restored);
        }

        var generator = BatchedGenerator.Create(model.Name, weights, parameters, settings.ContextLength, settings.Parallel, cache, logger);

        // Actual bytes: the weights llama.cpp holds, plus the context's KV cache and buffers as sized for this context.
        var accounted = (long)weights.SizeInBytes + (GgufMemoryEstimator.Estimate(info, settings.ContextLength, settings.Parallel, settings.FlashAttentionOn) - info.TensorBytes);
        Interlocked.Increment(ref _live);
        // The header's longest token text bounds every decoded piece, without a native call per token (150,000 of them took 7 ms).
        var maxTokenBytes = info.LongestTokenBytes > 0 ? info.LongestTokenBytes : LongestToken(weights);
        return new LlamaSharpModel(model.Name, weights, generator, settings.ChatTemplate ?? info.ChatTemplate, accounted, maxTokenBytes, cache, spill);
    }

    /// <summary>Where the weights landed (huge pages), set once by the backend after the load.</summary>
    internal MemoryPlacement? Placement { get; set; }

    /// <summary>
    /// The model's <see cref="LLamaWeights"/> for <c>typeof(LLamaWeights)</c> (valid only while a lease pins the model); with
    /// <c>prompt_cache</c> on, the cache as <see cref="IReclaimableMemory"/> and a <see cref="PromptCacheStats"/> snapshot; the weights' <see cref="MemoryPlacement"/> once known.
    /// </summary>
    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null || serviceType is null ? null
        : serviceType == typeof(LLamaWeights) ? _weights
        : serviceType == typeof(PromptCacheStats) ? _cache?.Snapshot()
        : serviceType == typeof(MemoryPlacement) ? Placement
        : serviceType == typeof(IReclaimableMemory) ? _cache
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    /// <summary>With a <c>prompt_cache.spill_path</c>, an unload the model may come back from saves its cached sequences there for the next load.</summary>
    public ValueTask UnloadingAsync(UnloadReason reason)
    {
        if (_spill is not null && reason is not (UnloadReason.Removed or UnloadReason.Unavailable or UnloadReason.None))
        {
            _spill.Save(_cache!);
        }

        return ValueTask.CompletedTask;
    }

    public IAsyncEnumerable<GenerationUpdate> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken)
    {
        if (options.OffersTools)
        {
            throw new NotSupportedException($"Model '{_name}': tools can be offered in a chat only (ChatAsync, or an IChatClient), not to a raw prompt.");
        }

        return _generator.GenerateAsync(Tokenize(prompt), options, _constraints.ForResponse(options.ResponseFormat), cancellationToken);
    }

    /// <remarks>
    /// Without tools or tool turns the conversation is rendered by the chat template (llama.cpp's), or the plain format. With
    /// them, <see cref="ToolFormat"/> renders it as the template would; a required call is then constrained from the first
    /// token, an optional one from the moment the model writes the format's trigger (a lazy grammar), and the call text is
    /// parsed into <see cref="FunctionCallContent"/> updates at the end.
    /// </remarks>
    public IAsyncEnumerable<GenerationUpdate> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var tools = options.OffersTools ? Functions(options) : [];
        var prompt = tools.Count == 0 && !HasToolTurns(messages) ? RenderPlain(messages) : ToolFormat.Render(messages, tools, RenderPlain);
        if (tools.Count == 0)
        {
            return _generator.GenerateAsync(Tokenize(prompt), WithPlainStops(options), _constraints.ForResponse(options.ResponseFormat), cancellationToken);
        }

        var required = options.ToolMode is RequiredChatToolMode;
        if (!required && options.ResponseFormat is ChatResponseFormatJson)
        {
            throw new NotSupportedException(
                $"Model '{_name}' cannot constrain one answer to both a JSON response format and optional tool calls; require a tool call (ChatToolMode.RequireAny) or leave the tools out of this call.");
        }

        var offered = options.ToolMode is RequiredChatToolMode { RequiredFunctionName: { } only } ? tools.Where(t => t.Name == only).ToList() : tools;
        // One call unless more are allowed: a request naming one function wants that call, unless it allows several explicitly.
        var single = options.AllowMultipleToolCalls == false || options.ToolMode is RequiredChatToolMode { RequiredFunctionName: not null } && options.AllowMultipleToolCalls != true;
        var constraint = _constraints.ForTools(ToolFormat, offered, single, lazy: !required);
        return WithToolCallsAsync(_generator.GenerateAsync(Tokenize(prompt), WithPlainStops(options), constraint, cancellationToken), required, cancellationToken);
    }

    /// <summary>True once disposal began: background work on the weights (the huge-page copy) stops.</summary>
    internal bool IsDisposed => Volatile.Read(ref _disposing) != 0;

    private int _disposing;

    public async ValueTask DisposeAsync()
    {
        Volatile.Write(ref _disposing, 1);
        await _generator.DisposeAsync().ConfigureAwait(false);
        _weights.Dispose();
        Interlocked.Decrement(ref _live);
    }

    /// <summary>Streams text until a call begins, holds the call text, and ends with the calls parsed from it and <see cref="GenerationFinishReason.ToolCalls"/>.</summary>
    private async IAsyncEnumerable<GenerationUpdate> WithToolCallsAsync(IAsyncEnumerable<GenerationUpdate> generation, bool required, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var filter = new ToolOutputFilter(ToolFormat.Trigger, required);
        GenerationOutcome? outcome = null;
        await foreach (var update in generation.WithCancellation(cancellationToken).ConfigureAwait(false))
        {
            if (update.Outcome is { } o)
            {
                outcome = o;
                continue;
            }

            var emit = filter.Push(update.Text);
            if (emit.Length > 0)
            {
                yield return emit;
            }
        }

        var (text, call) = filter.Flush();
        if (text.Length > 0)
        {
            yield return text;
        }

        if (call.Length > 0)
        {
            var parsed = ToolFormat.Parse(call);
            if (parsed.Text.Length > 0)
            {
                yield return parsed.Text;
            }

            foreach (var c in parsed.Calls)
            {
                yield return new GenerationUpdate(c);
            }

            if (parsed.Calls.Count > 0 && outcome is { IsTruncated: false })
            {
                outcome = outcome with { FinishReason = GenerationFinishReason.ToolCalls };
            }
        }

        if (outcome is not null)
        {
            yield return outcome;
        }
    }

    /// <summary>The conversation as the model's chat template (llama.cpp's implementation) or the plain format writes it, text only.</summary>
    private string RenderPlain(IReadOnlyList<ChatMessage> messages)
    {
        if (_chatTemplate is null)
        {
            var plain = new StringBuilder();
            foreach (var m in messages)
            {
                plain.Append(Capitalize(m.Role.Value)).Append(": ").Append(m.Text).Append('\n');
            }

            return plain.Append("Assistant:").ToString();
        }

        var template = new LLamaTemplate(_chatTemplate) { AddAssistant = true };
        foreach (var m in messages)
        {
            template.Add(m.Role.Value, m.Text);
        }

        return Encoding.UTF8.GetString(template.Apply());
    }

    /// <summary>For a model without a template, the role stops end the reply where the model starts the next turn (the outcome then says StopSequence).</summary>
    private GenerationOptions WithPlainStops(GenerationOptions options) =>
        _chatTemplate is null ? options with { StopSequences = [.. options.StopSequences ?? [], .. PlainStops] } : options;

    private List<AIFunctionDeclaration> Functions(GenerationOptions options)
    {
        var functions = new List<AIFunctionDeclaration>();
        foreach (var tool in options.Tools!)
        {
            functions.Add(tool as AIFunctionDeclaration
                ?? throw new NotSupportedException($"Model '{_name}' can call functions only; tool '{tool.Name}' is a {tool.GetType().Name}."));
        }

        return functions;
    }

    private static bool HasToolTurns(IReadOnlyList<ChatMessage> messages)
    {
        foreach (var m in messages)
        {
            foreach (var content in m.Contents)
            {
                if (content is FunctionCallContent or FunctionResultContent)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <exception cref="ArgumentException">The text cannot fit the context even if every token were the vocabulary's longest; rejected before tokenizing, so a huge prompt costs no memory.</exception>
    private LLamaToken[] Tokenize(string text)
    {
        var bytes = Encoding.UTF8.GetByteCount(text);
        if (bytes > (long)_generator.ContextPerSequence * _maxTokenBytes)
        {
            throw new ContextLengthExceededException(_name, _generator.ContextPerSequence, null,
                $"The prompt for model '{_name}' is {bytes} bytes: more than {_generator.ContextPerSequence} tokens (context_length), even at the vocabulary's longest token of {_maxTokenBytes} bytes; shorten the prompt or raise context_length.");
        }

        var vocab = _weights.Vocab;
        var tokens = _weights.Tokenize(text, add_bos: vocab.ShouldAddBOS, special: true, Encoding.UTF8);
        if (tokens.Length >= 2 && vocab.BOS is { } bos && tokens[0] == bos && tokens[1] == bos)
        {
            tokens = tokens[1..]; // the chat template already wrote BOS
        }

        return tokens;
    }

    /// <summary>The UTF-8 length of the vocabulary's longest decoded token (special tokens included): no prompt has fewer tokens than its bytes over this. For a file without a token list in its header.</summary>
    private static int LongestToken(LLamaWeights weights)
    {
        Span<byte> piece = stackalloc byte[1024];
        var longest = 1;
        var count = weights.Vocab.Count;
        for (var t = 0; t < count; t++)
        {
            var length = (int)weights.NativeHandle.TokenToSpan((LLamaToken)t, piece, special: true);
            longest = Math.Max(longest, length);
        }

        return longest;
    }

    private static string Capitalize(string role) => role.Length == 0 ? role : char.ToUpperInvariant(role[0]) + role[1..];
}
