namespace ModelManager;

/// <summary>Streams generated text while holding back anything that may be the start of a stop sequence; for backend authors.</summary>
/// <remarks>Not thread-safe: one per generation.</remarks>
public sealed class StopSequenceFilter
{
    private readonly IList<string>? _stops;
    private readonly int _longest;
    private string _pending = "";

    /// <summary>Creates a filter for <paramref name="stops"/>; null or empty passes all text through.</summary>
    public StopSequenceFilter(IList<string>? stops)
    {
        _stops = stops is { Count: > 0 } ? stops.Where(s => s.Length > 0).ToArray() : null;
        _longest = _stops?.Max(s => s.Length) ?? 0;
    }

    /// <summary>True once a stop sequence has been produced; the caller ends generation.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Adds newly decoded text; returns what may be emitted now (possibly empty).</summary>
    public string Push(string text)
    {
        if (_stops is null || Stopped)
        {
            return Stopped ? "" : text;
        }

        _pending += text;
        var cut = -1;
        foreach (var stop in _stops)
        {
            var i = _pending.IndexOf(stop, StringComparison.Ordinal);
            if (i >= 0 && (cut < 0 || i < cut))
            {
                cut = i;
            }
        }

        if (cut >= 0)
        {
            Stopped = true;
            var head = _pending[..cut];
            _pending = "";
            return head;
        }

        // Keep the longest suffix that is a prefix of some stop sequence.
        var keep = 0;
        for (var k = Math.Min(_longest - 1, _pending.Length); k > 0; k--)
        {
            var suffix = _pending[^k..];
            if (_stops.Any(s => s.StartsWith(suffix, StringComparison.Ordinal)))
            {
                keep = k;
                break;
            }
        }

        var emit = _pending[..^keep];
        _pending = _pending[^keep..];
        return emit;
    }

    /// <summary>Returns what is still held back when generation ends without a stop sequence.</summary>
    public string Flush()
    {
        var rest = Stopped ? "" : _pending;
        _pending = "";
        return rest;
    }
}
