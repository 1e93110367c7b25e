using System.Runtime.CompilerServices;
using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>One loaded GGUF model: shared weights, one batched context, a chat template.</summary>
/// <remarks>Thread-safe: requests go through <see cref="BatchedGenerator"/>, whose single loop owns the context.</remarks>
internal sealed class LlamaSharpModel : IModelInstance
{
    private readonly ModelDescriptor _model;
    private readonly LLamaWeights _weights;
    private readonly BatchedGenerator _generator;
    private readonly string? _template;

    private static int _live;

    private LlamaSharpModel(ModelDescriptor model, LLamaWeights weights, BatchedGenerator generator, string? template, long memoryBytes)
    {
        Interlocked.Increment(ref _live);
        _model = model;
        _weights = weights;
        _generator = generator;
        _template = template;
        MemoryBytes = memoryBytes;
    }

    public long MemoryBytes { get; }

    /// <summary>Models loaded and not yet disposed in this process; tests check that shutdown releases every native handle.</summary>
    internal static int LiveCount => Volatile.Read(ref _live);

    public static LlamaSharpModel Create(ModelDescriptor model, GgufModelInfo info, LlamaSharpModelSettings settings, LLamaWeights weights, ModelParams parameters, ILogger logger)
    {
        var generator = BatchedGenerator.Create(model.Name, weights, parameters, settings.ContextLength, settings.Parallel, logger);
        var template = settings.ChatTemplate ?? info.ChatTemplate;

        // Actual bytes: the weights llama.cpp holds, plus the context's KV cache and buffers as sized for this context.
        var accounted = (long)weights.SizeInBytes + (GgufMemoryEstimator.Estimate(info, settings.ContextLength, settings.Parallel) - info.TensorBytes);
        return new LlamaSharpModel(model, weights, generator, template, accounted);
    }

    public IAsyncEnumerable<string> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken) =>
        _generator.GenerateAsync(Tokenize(prompt), options, cancellationToken);

    public IAsyncEnumerable<string> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, CancellationToken cancellationToken)
    {
        if (_template is null)
        {
            var plain = new StringBuilder();
            foreach (var m in messages)
            {
                plain.Append(Capitalize(m.Role.Value)).Append(": ").Append(m.Text).Append('\n');
            }

            plain.Append("Assistant:");
            var stops = new List<string>(options.StopSequences ?? []) { "\nUser:", "\nSystem:" };
            return _generator.GenerateAsync(Tokenize(plain.ToString()), options with { StopSequences = stops }, cancellationToken);
        }

        var template = new LLamaTemplate(_template) { AddAssistant = true };
        foreach (var m in messages)
        {
            template.Add(m.Role.Value, m.Text);
        }

        var text = Encoding.UTF8.GetString(template.Apply());
        return _generator.GenerateAsync(Tokenize(text), options, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await _generator.DisposeAsync().ConfigureAwait(false);
        _weights.Dispose();
        Interlocked.Decrement(ref _live);
    }

    private LLamaToken[] Tokenize(string text)
    {
        var vocab = _weights.Vocab;
        var tokens = _weights.Tokenize(text, add_bos: vocab.ShouldAddBOS, special: true, Encoding.UTF8);
        if (tokens.Length >= 2 && vocab.BOS is { } bos && tokens[0] == bos && tokens[1] == bos)
        {
            tokens = tokens[1..]; // the chat template already wrote BOS
        }

        return tokens;
    }

    private static string Capitalize(string role) => role.Length == 0 ? role : char.ToUpperInvariant(role[0]) + role[1..];
}
