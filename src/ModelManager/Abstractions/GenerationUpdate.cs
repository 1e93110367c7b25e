using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>One step of a backend's generation: a piece of text, a tool call, or the final update that carries the <see cref="Outcome"/>.</summary>
/// <remarks>
/// A value (no allocation per token). Every generation a backend streams ends with exactly one final update, after all its
/// text; a string converts to a text update, so an iterator can <c>yield return piece;</c>.
/// </remarks>
public readonly struct GenerationUpdate
{
    private readonly string? _text;

    /// <summary>A piece of generated text.</summary>
    public GenerationUpdate(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        _text = text;
    }

    /// <summary>The final update.</summary>
    public GenerationUpdate(GenerationOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        Outcome = outcome;
    }

    /// <summary>A tool call the model made (with its <c>CallId</c> set).</summary>
    public GenerationUpdate(FunctionCallContent toolCall)
    {
        ArgumentNullException.ThrowIfNull(toolCall);
        ToolCall = toolCall;
    }

    private GenerationUpdate(string? text, GenerationOutcome? outcome, FunctionCallContent? toolCall, string modelName)
    {
        _text = text;
        Outcome = outcome;
        ToolCall = toolCall;
        ModelName = modelName;
    }

    /// <summary>The model that serves the call (a fallback, when the requested one could not load); set by the manager, null from a backend.</summary>
    public string? ModelName { get; }

    /// <summary>The text of this piece; empty in a tool call and in the final update.</summary>
    public string Text => _text ?? "";

    /// <summary>Why the generation ended and what it cost; set only on the final update.</summary>
    public GenerationOutcome? Outcome { get; }

    /// <summary>A tool call the model made; null in text pieces and the final update.</summary>
    public FunctionCallContent? ToolCall { get; }

    /// <summary>True for the final update.</summary>
    public bool IsFinal => Outcome is not null;

    /// <summary>The same update, naming the model that served it.</summary>
    public GenerationUpdate WithModelName(string modelName) => new(_text, Outcome, ToolCall, modelName);

    /// <summary>A text update.</summary>
    public static implicit operator GenerationUpdate(string text) => new(text);

    /// <summary>A final update.</summary>
    public static implicit operator GenerationUpdate(GenerationOutcome outcome) => new(outcome);

    /// <inheritdoc />
    public override string ToString() => Outcome is { } o ? $"[{o.FinishReason}]" : ToolCall is { } c ? $"[call {c.Name}]" : Text;
}
