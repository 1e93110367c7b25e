namespace AgentHost;

/// <summary>The generated demo: its config file and the roles its models play in the scenario.</summary>
public sealed record DemoPlan
{
    public required string ConfigPath { get; init; }

    public required string Backend { get; init; }

    public required bool IsShort { get; init; }

    /// <summary>Where synthetic models are cached (null on the fake backend).</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>The model two agents share (stories260K when found).</summary>
    public required string SharedModel { get; init; }

    /// <summary>The model the code generator loads, which forces an eviction and later idles out.</summary>
    public required string CoderModel { get; init; }

    /// <summary>The least important model: the reviewer's fallback, and the eviction victim.</summary>
    public required string ReviewerModel { get; init; }

    /// <summary>The reviewer's configured model, which cannot load.</summary>
    public required string BrokenModel { get; init; }

    /// <summary>The retrieval step's embedding model (the memory agent's).</summary>
    public required string EmbeddingModel { get; init; }

    /// <summary>True when <see cref="EmbeddingModel"/> is the real all-MiniLM-L6-v2 (its nearest note means something).</summary>
    public required bool RealEmbeddings { get; init; }

    /// <summary>The coder model's <c>max_idle_time</c> in seconds.</summary>
    public required double IdleSeconds { get; init; }

    /// <summary>Tokens per agent job.</summary>
    public required int MaxTokens { get; init; }

    public required long BudgetMb { get; init; }

    /// <summary>Each model's estimate from its backend (null when the model's file is unreadable), and where it comes from.</summary>
    public required IReadOnlyList<DemoModel> Models { get; init; }
}

