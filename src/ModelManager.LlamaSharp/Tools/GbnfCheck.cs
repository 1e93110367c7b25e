namespace ModelManager;

/// <summary>Checks a GBNF grammar in managed code before it reaches llama.cpp, which aborts the process on a grammar it cannot parse.</summary>
internal static class GbnfCheck
{
    /// <summary>Throws unless every rule is defined once, every referenced rule is defined, and <c>root</c> exists.</summary>
    /// <exception cref="InvalidOperationException">The grammar is incomplete; the message names the rule.</exception>
    public static string EnsureComplete(string gbnf)
    {
        var defined = new HashSet<string>(StringComparer.Ordinal);
        var lines = gbnf.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        foreach (string line in lines)
        {
            int separator = line.IndexOf(" ::= ", StringComparison.Ordinal);
            if (separator <= 0)
            {
                throw new InvalidOperationException($"The tool-call grammar has a line that is not a rule: '{line}'.");
            }

            if (!defined.Add(line[..separator]))
            {
                throw new InvalidOperationException($"The tool-call grammar defines rule '{line[..separator]}' twice.");
            }
        }

        if (!defined.Contains(JsonSchemaGrammar.RootRule))
        {
            throw new InvalidOperationException("The tool-call grammar has no 'root' rule.");
        }

        foreach (string line in lines)
        {
            string body = line[(line.IndexOf(" ::= ", StringComparison.Ordinal) + 5)..];
            foreach (var (start, length) in JsonSchemaGrammar.RuleReferences(body))
            {
                string name = body.Substring(start, length);
                if (!defined.Contains(name))
                {
                    throw new InvalidOperationException($"The tool-call grammar uses rule '{name}' but does not define it.");
                }
            }
        }

        if (gbnf.Length > JsonSchemaGrammar.MaxGrammarLength)
        {
            throw new NotSupportedException($"The tools need a grammar of {gbnf.Length} characters, over the cap of {JsonSchemaGrammar.MaxGrammarLength} characters (JsonSchemaGrammar.MaxGrammarLength).");
        }

        return gbnf;
    }
}
