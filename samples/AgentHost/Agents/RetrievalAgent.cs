using System.Diagnostics;

namespace AgentHost;

/// <summary>Answers from its notes: finds the note nearest to the question with an embedding model, then asks its chat model with that note.</summary>
/// <remarks>
/// Two models under one budget: the chat client is the agent's own (<c>agents.RetrievalAgent</c>), the embedding generator
/// the memory agent's (<c>agents.MemoryAgent</c>). Each call leases its model, so either may be evicted between calls.
/// </remarks>
public sealed class RetrievalAgent(
    [FromKeyedServices(nameof(RetrievalAgent))] IChatClient chat,
    [FromKeyedServices(MemoryAgent.Key)] IEmbeddingGenerator<string, Embedding<float>> embedder)
    : Agent(nameof(RetrievalAgent), "retrieves a note, then answers", chat)
{
    private readonly IChatClient _chat = chat;

    public override string Injection => $"[FromKeyedServices(\"{Name}\")] IChatClient + [FromKeyedServices(\"{MemoryAgent.Key}\")] IEmbeddingGenerator";

    /// <summary>The embedding model (the head of the memory agent's chain).</summary>
    public string? EmbeddingModel => embedder.GetService<ModelDescriptor>()?.Name;

    /// <summary>Embeds the notes and the question in one call, picks the nearest note, and asks the chat model with it.</summary>
    public async Task<Retrieval> AskAsync(IReadOnlyList<string> notes, string question, int maxTokens, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var embeddings = await embedder.GenerateAsync([.. notes, question], cancellationToken: cancellationToken);
        var embedded = watch.Elapsed;
        var query = embeddings[^1].Vector.Span;
        var best = 0;
        var scores = new double[notes.Count];
        for (var i = 0; i < notes.Count; i++)
        {
            scores[i] = Cosine(embeddings[i].Vector.Span, query);
            best = scores[i] > scores[best] ? i : best;
        }

        watch.Restart();
        var response = await _chat.GetResponseAsync(
            [new ChatMessage(ChatRole.System, $"Note: {notes[best]}"), new ChatMessage(ChatRole.User, question)],
            new ChatOptions { MaxOutputTokens = maxTokens, Temperature = 0 },
            cancellationToken);
        var answer = new AgentResult(Name, response.ModelId ?? ConfiguredModel ?? "?", response.Text, watch.Elapsed,
            response.Usage?.InputTokenCount, response.Usage?.OutputTokenCount, response.FinishReason == ChatFinishReason.Length);
        return new Retrieval(embeddings[0].ModelId ?? "?", embeddings.Count, embeddings[0].Vector.Length, embeddings.Usage?.InputTokenCount, embedded,
            best, scores, answer);
    }

    private static double Cosine(ReadOnlySpan<float> a, ReadOnlySpan<float> b) => System.Numerics.Tensors.TensorPrimitives.CosineSimilarity(a, b) is var c && float.IsNaN(c) ? 0 : c;

    /// <summary>What one retrieval did: which model embedded how much, which note won, and the answer.</summary>
    public sealed record Retrieval(string EmbeddingModel, int Texts, int Dimensions, long? Tokens, TimeSpan EmbeddingTime, int Best, double[] Scores, AgentResult Answer);
}
