using System.Diagnostics;
using System.Globalization;

namespace AgentHost;

/// <summary>An agent on an embedding model: its job embeds text (for retrieval memory) instead of generating it.</summary>
public sealed class MemoryAgent(string name, IChatClient chat, IEmbeddingGenerator<string, Embedding<float>> embedder)
    : Agent(name, "embeds text (retrieval memory)", chat)
{
    /// <summary>The agent name whose embedding generator the <see cref="RetrievalAgent"/> receives.</summary>
    public const string Key = "MemoryAgent";

    public override string Injection => $"[FromKeyedServices(\"{Name}\")] IEmbeddingGenerator";

    /// <summary>Embeds <paramref name="task"/>; the result's text shows the vector's size and first values.</summary>
    public override async Task<AgentResult> RunAsync(string task, int maxTokens, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var result = await embedder.GenerateAsync([task], cancellationToken: cancellationToken);
        var vector = result[0].Vector.Span;
        var head = string.Join(", ", vector[..Math.Min(3, vector.Length)].ToArray().Select(v => v.ToString("F3", CultureInfo.InvariantCulture)));
        return new AgentResult(Name, result[0].ModelId ?? ConfiguredModel ?? "?", $"{vector.Length} dimensions [{head}, ...]", watch.Elapsed,
            result.Usage?.InputTokenCount, 0, false);
    }
}
