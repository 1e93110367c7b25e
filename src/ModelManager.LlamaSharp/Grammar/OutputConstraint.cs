namespace ModelManager;

/// <summary>What a generation's tokens must match: a GBNF grammar, checked in managed code, applied from the start or once a trigger appears.</summary>
/// <param name="Gbnf">The grammar; its start rule is <see cref="JsonSchemaGrammar.RootRule"/>.</param>
/// <param name="Trigger">Null: the grammar constrains every token. Otherwise the grammar is lazy: free text until the output contains this text, constrained from it on (the grammar starts with it).</param>
/// <param name="Description">What the grammar enforces, for messages (<c>the JSON schema 'Person'</c>).</param>
internal sealed record OutputConstraint(string Gbnf, string? Trigger, string Description)
{
    /// <summary>A checked constraint.</summary>
    /// <exception cref="ArgumentException">The grammar is malformed (a bug in the code that wrote it; llama.cpp would abort on it).</exception>
    public static OutputConstraint Create(string gbnf, string? trigger, string description)
    {
        GbnfCheck.ThrowIfInvalid(gbnf, JsonSchemaGrammar.RootRule, description);
        return new OutputConstraint(gbnf, trigger, description);
    }
}
