namespace ModelManager;

/// <summary>Why a generation ended.</summary>
public enum GenerationFinishReason
{
    /// <summary>The model produced its end-of-sequence token (or the server said it stopped on its own).</summary>
    EndOfSequence,

    /// <summary>One of the request's stop sequences was produced (it is not part of the text).</summary>
    StopSequence,

    /// <summary><c>max_tokens</c> tokens were generated; the text may be cut mid-sentence.</summary>
    MaxTokens,

    /// <summary>The context window filled before the model finished; the text may be cut mid-sentence.</summary>
    ContextFull,

    /// <summary>The model called tools (the calls are the updates before the outcome) and waits for their results.</summary>
    ToolCalls,

    /// <summary>The backend ended the generation because it was cancelled without throwing (rare: cancellation normally throws).</summary>
    Cancelled,
}
