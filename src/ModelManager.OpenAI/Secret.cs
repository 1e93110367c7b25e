namespace ModelManager;

/// <summary>An API key held so that no <c>ToString</c>, debugger view or serializer shows it; only <see cref="Reveal"/> does.</summary>
internal sealed class Secret
{
    private readonly string _value;

    public Secret(string value)
    {
        ArgumentException.ThrowIfNullOrEmpty(value);
        _value = value;
    }

    /// <summary>The key itself, for the one place that sends it.</summary>
    public string Reveal() => _value;

    /// <summary>Replaces every occurrence of the key in <paramref name="text"/> with <c>[redacted]</c>.</summary>
    public string Scrub(string text) => text.Replace(_value, "[redacted]", StringComparison.Ordinal);

    /// <summary>True when <paramref name="text"/> holds the key.</summary>
    public bool IsIn(string? text) => text is not null && text.Contains(_value, StringComparison.Ordinal);

    public override string ToString() => "[redacted]";
}
