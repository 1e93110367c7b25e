using System.Text;
using LLama;
using LLama.Common;
using LLama.Native;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>One loaded GGUF model: shared weights, one batched context, a chat template.</summary>
/// <remarks>Thread-safe: requests go through <see cref="BatchedGenerator"/>, whose single loop owns the context.</remarks>
internal sealed class LlamaSharpModel(string name, LLamaWeights weights, BatchedGenerator generator, string? chatTemplate, long memoryBytes) : IModelInstance
{
    private readonly ConstraintCache _constraints = new(name);

    private static int _live;

    public long MemoryBytes { get; } = memoryBytes;

    /// <summary>Models loaded and not yet disposed in this process; tests check that shutdown releases every native handle.</summary>
    internal static int LiveCount => Volatile.Read(ref _live);

    public static LlamaSharpModel Create(ModelDescriptor model, GgufModelInfo info, LlamaSharpModelSettings settings, LLamaWeights weights, ModelParams parameters, ILogger logger)
    {
        var generator = BatchedGenerator.Create(model.Name, weights, parameters, settings.ContextLength, settings.Parallel, logger);

        // Actual bytes: the weights llama.cpp holds, plus the context's KV cache and buffers as sized for this context.
        var accounted = (long)weights.SizeInBytes + (GgufMemoryEstimator.Estimate(info, settings.ContextLength, settings.Parallel) - info.TensorBytes);
        Interlocked.Increment(ref _live);
        return new LlamaSharpModel(model.Name, weights, generator, settings.ChatTemplate ?? info.ChatTemplate, accounted);
    }

    /// <summary>The model's <see cref="LLamaWeights"/> for <c>typeof(LLamaWeights)</c>; valid only while a lease pins the model.</summary>
    public object? GetService(Type serviceType, object? serviceKey = null) =>
        serviceKey is not null || serviceType is null ? null
        : serviceType == typeof(LLamaWeights) ? weights
        : serviceType.IsInstanceOfType(this) ? this
        : null;

    public IAsyncEnumerable<GenerationUpdate> GenerateAsync(string prompt, GenerationOptions options, CancellationToken cancellationToken)
    {
        if (options.OffersTools)
        {
            throw new NotSupportedException($"Model '{name}': tools can be offered in a chat only (ChatAsync, or an IChatClient), not to a raw prompt.");
        }

        return generator.GenerateAsync(Tokenize(prompt), options, _constraints.ForResponse(options.ResponseFormat), cancellationToken);
    }

    public IAsyncEnumerable<GenerationUpdate> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, CancellationToken cancellationToken)
    {
        if (options.OffersTools)
        {
            throw new NotSupportedException($"Model '{name}': tool calls are not wired into the gguf backend yet.");
        }

        var constraint = _constraints.ForResponse(options.ResponseFormat);
        if (chatTemplate is null)
        {
            var plain = new StringBuilder();
            foreach (var m in messages)
            {
                plain.Append(Capitalize(m.Role.Value)).Append(": ").Append(m.Text).Append('\n');
            }

            plain.Append("Assistant:");

            // The role stops end the reply where the model starts the next turn; the outcome then says StopSequence.
            var stops = new List<string>(options.StopSequences ?? []) { "\nUser:", "\nSystem:" };
            return generator.GenerateAsync(Tokenize(plain.ToString()), options with { StopSequences = stops }, constraint, cancellationToken);
        }

        var template = new LLamaTemplate(chatTemplate) { AddAssistant = true };
        foreach (var m in messages)
        {
            template.Add(m.Role.Value, m.Text);
        }

        var text = Encoding.UTF8.GetString(template.Apply());
        return generator.GenerateAsync(Tokenize(text), options, constraint, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        await generator.DisposeAsync().ConfigureAwait(false);
        weights.Dispose();
        Interlocked.Decrement(ref _live);
    }

    private LLamaToken[] Tokenize(string text)
    {
        var vocab = weights.Vocab;
        var tokens = weights.Tokenize(text, add_bos: vocab.ShouldAddBOS, special: true, Encoding.UTF8);
        if (tokens.Length >= 2 && vocab.BOS is { } bos && tokens[0] == bos && tokens[1] == bos)
        {
            tokens = tokens[1..]; // the chat template already wrote BOS
        }

        return tokens;
    }

    private static string Capitalize(string role) => role.Length == 0 ? role : char.ToUpperInvariant(role[0]) + role[1..];
}
