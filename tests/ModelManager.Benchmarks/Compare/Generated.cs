namespace ModelManager.Benchmarks.Compare;

/// <summary>One generation: its text, how many tokens it produced and how long it took (tokenizing the prompt included).</summary>
internal sealed record Generated(string Text, int Tokens, TimeSpan Elapsed)
{
    public double TokensPerSecond => Tokens / Elapsed.TotalSeconds;
}
