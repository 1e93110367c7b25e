using System.Text;

namespace ModelManager;

/// <summary>Splits a streamed generation into text to pass on now and the tool-call text to parse at the end.</summary>
/// <remarks>
/// Before the trigger (the text that begins a call in the model's format) text streams through, except a tail that could be
/// the trigger's beginning; from the trigger on, everything is held as call text. With a required call everything is call
/// text from the start. Not thread-safe: one per generation.
/// </remarks>
internal sealed class ToolOutputFilter(string trigger, bool required)
{
    private readonly StringBuilder _pending = new();
    private readonly StringBuilder _call = new();
    private bool _inCall = required;

    /// <summary>True once call text has begun.</summary>
    public bool InCall => _inCall;

    /// <summary>Adds a decoded piece; returns the text that may be streamed now (possibly empty).</summary>
    public string Push(string piece)
    {
        if (_inCall)
        {
            _call.Append(piece);
            return "";
        }

        _pending.Append(piece);
        var text = _pending.ToString();
        var at = text.IndexOf(trigger, StringComparison.Ordinal);
        if (at >= 0)
        {
            _inCall = true;
            _call.Append(text, at, text.Length - at);
            _pending.Clear();
            return text[..at];
        }

        var keep = HeldTail(text);
        _pending.Clear().Append(text, text.Length - keep, keep);
        return text[..^keep];
    }

    /// <summary>At the end: the text still held back, and the call text (empty when no call began).</summary>
    public (string Text, string Call) Flush()
    {
        var result = (_pending.ToString(), _call.ToString());
        _pending.Clear();
        _call.Clear();
        return result;
    }

    /// <summary>The length of the longest suffix of <paramref name="text"/> that is a proper prefix of the trigger.</summary>
    private int HeldTail(string text)
    {
        for (var n = Math.Min(trigger.Length - 1, text.Length); n > 0; n--)
        {
            if (text.AsSpan(text.Length - n).SequenceEqual(trigger.AsSpan(0, n)))
            {
                return n;
            }
        }

        return 0;
    }
}
