using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>A loaded fake model: a block of touched native memory, a deterministic word generator and, when its capabilities say so, bag-of-words embeddings.</summary>
internal sealed unsafe class FakeModelInstance : IModelInstance, IEmbeddingModelInstance
{
    /// <summary>The length of a fake embedding.</summary>
    internal const int EmbeddingDimensions = 8;

    private static readonly string[] Words =
    [
        "the", "model", "manager", "keeps", "memory", "inside", "its", "budget", "and", "shares", "one", "copy",
        "between", "agents", "while", "leases", "pin", "what", "is", "in", "use", "so", "nothing", "frees", "early",
    ];

    private readonly FakeModelBackend _backend;
    private readonly ModelDescriptor _model;
    private readonly long _bytes;
    private byte* _memory;
    private int _activeCalls;
    private int _disposed;

    public FakeModelInstance(FakeModelBackend backend, ModelDescriptor model, long bytes)
    {
        _backend = backend;
        _model = model;
        _bytes = bytes;
        if (bytes > 0)
        {
            _memory = (byte*)NativeMemory.Alloc((nuint)bytes);
            for (long i = 0; i < bytes; i += 4096)
            {
                _memory[i] = 1; // touch every page so the process's resident memory really grows
            }
        }
    }

    public long MemoryBytes => _bytes;

    public int? Dimensions => EmbeddingDimensions;

    /// <summary>The embedder only for a model whose capabilities include embeddings, as a real backend would answer.</summary>
    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null || serviceType is null ? null
        : serviceType == typeof(IEmbeddingModelInstance) ? (_model.Capabilities.HasFlag(ModelCapabilities.Embeddings) ? this : null)
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    /// <summary>Each word (split on white space) adds 1 to one of 8 dimensions chosen by its hash; the sum is L2-normalised. Usage counts the words.</summary>
    public Task<GeneratedEmbeddings<Embedding<float>>> EmbedAsync(IReadOnlyList<string> values, int? dimensions, CancellationToken cancellationToken)
    {
        if (dimensions is { } asked && asked != EmbeddingDimensions)
        {
            throw new NotSupportedException($"EmbeddingGenerationOptions.Dimensions = {asked} is not supported by model '{_model.Name}': its vectors have a fixed {EmbeddingDimensions} dimensions.");
        }

        Interlocked.Increment(ref _activeCalls);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            var result = new GeneratedEmbeddings<Embedding<float>>(values.Count);
            long words = 0;
            foreach (var value in values)
            {
                var vector = new float[EmbeddingDimensions];
                foreach (var word in value.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries))
                {
                    vector[(int)(Seed(_model.Name, word) % EmbeddingDimensions)] += 1;
                    words++;
                }

                var norm = MathF.Sqrt(vector.Sum(v => v * v));
                result.Add(new Embedding<float>(norm > 0 ? vector.Select(v => v / norm).ToArray() : vector));
            }

            result.Usage = new UsageDetails { InputTokenCount = words, TotalTokenCount = words };
            return Task.FromResult(result);
        }
        finally
        {
            Interlocked.Decrement(ref _activeCalls);
        }
    }

    public IAsyncEnumerable<GenerationUpdate> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken) =>
        RunAsync(prompt, options, cancellationToken);

    public IAsyncEnumerable<GenerationUpdate> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, CancellationToken cancellationToken)
    {
        var prompt = new StringBuilder();
        foreach (var m in messages)
        {
            prompt.Append(m.Role.Value).Append(": ").Append(m.Text).Append('\n');
        }

        prompt.Append("assistant:");
        return RunAsync(prompt.ToString(), options, cancellationToken);
    }

    /// <summary>The text <paramref name="prompt"/> produces on model <paramref name="modelName"/>, for tests to compare against.</summary>
    internal static string Expected(string modelName, string prompt, int maxTokens)
    {
        var seed = Seed(modelName, prompt);
        var text = new StringBuilder();
        for (var i = 0; i < maxTokens; i++)
        {
            text.Append(Token(seed, i));
        }

        return text.ToString();
    }

    /// <summary>The fake's tokenizer: one token per whitespace-separated word of the rendered prompt.</summary>
    internal static int CountTokens(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    private async IAsyncEnumerable<GenerationUpdate> RunAsync(string prompt, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (options.IsStructured)
        {
            throw new NotSupportedException($"Fake model '{_model.Name}' generates words only: it cannot enforce a JSON response format or call tools.");
        }

        var seed = Seed(_model.Name, prompt);
        var max = options.MaxTokens ?? 16;
        var eosAfter = _model.GetInt32("parameters:eos_after");
        var promptTokens = CountTokens(prompt);
        var delay = _model.GetInt32("parameters:token_delay_ms") ?? 0;
        var stops = options.StopSequences;
        var produced = new StringBuilder();
        Interlocked.Increment(ref _activeCalls);
        try
        {
            if (_model.GetBoolean("parameters:unavailable") == true)
            {
                await Task.Yield();
                throw new ModelUnavailableException(_model.Name, $"fake model '{_model.Name}' stopped answering (parameters.unavailable is true)");
            }

            for (var i = 0; i < max; i++)
            {
                if (i == eosAfter)
                {
                    yield return new GenerationOutcome(GenerationFinishReason.EndOfSequence, promptTokens, i);
                    yield break;
                }

                if (delay > 0)
                {
                    await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await Task.Yield();
                }

                cancellationToken.ThrowIfCancellationRequested();
                Touch();
                var token = Token(seed, i);
                if (stops is { Count: > 0 })
                {
                    produced.Append(token);
                    var text = produced.ToString();
                    var cut = stops.Select(s => text.IndexOf(s, StringComparison.Ordinal)).Where(ix => ix >= 0).DefaultIfEmpty(-1).Min();
                    if (cut >= 0)
                    {
                        var emitted = text.Length - token.Length;
                        if (cut > emitted)
                        {
                            yield return text[emitted..cut];
                        }

                        yield return new GenerationOutcome(GenerationFinishReason.StopSequence, promptTokens, i + 1);
                        yield break;
                    }
                }

                yield return token;
            }

            yield return new GenerationOutcome(GenerationFinishReason.MaxTokens, promptTokens, max);
        }
        finally
        {
            Interlocked.Decrement(ref _activeCalls);
        }
    }

    private void Touch()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            _backend.OnUseAfterUnload();
            throw new InvalidOperationException($"Fake model '{_model.Name}' was used after it was unloaded.");
        }

        if (_memory is not null)
        {
            _ = Volatile.Read(ref _memory[0]);
        }
    }

    private static ulong Seed(string model, string prompt)
    {
        ulong h = 14695981039346656037;
        foreach (var c in model + "\u0000" + prompt)
        {
            h = (h ^ c) * 1099511628211;
        }

        return h;
    }

    private static string Token(ulong seed, int i)
    {
        var x = seed + (ulong)i * 0x9E3779B97F4A7C15;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EB;
        x ^= x >> 31;
        return " " + Words[(int)(x % (ulong)Words.Length)];
    }

    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return ValueTask.CompletedTask;
        }

        _backend.OnDisposed(_bytes, Volatile.Read(ref _activeCalls) != 0);
        if (_memory is not null)
        {
            NativeMemory.Free(_memory);
            _memory = null;
        }

        return ValueTask.CompletedTask;
    }
}
