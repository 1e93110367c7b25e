namespace ModelManager.IntegrationTests;

/// <summary>The managed grammar check that stands between generated grammars and llama.cpp, which aborts the process on malformed ones.</summary>
public sealed class GbnfCheckTests
{
    [Fact]
    public void WellFormedGrammars_Pass()
    {
        GbnfCheck.ThrowIfInvalid(JsonSchemaGrammar.AnyObject, "root", "any object");
        GbnfCheck.ThrowIfInvalid("root ::= \"a\\\"(|\" x{2,5} | [^\\]a-z]* ( x )?\nx ::= \"b\"", "root", "t");
        GbnfCheck.ThrowIfInvalid("root ::= x{3} x{1,}\nx ::= \"b\"", "root", "t");
    }

    [Theory]
    [InlineData("root ::= x", "uses 'x', which is not defined")]
    [InlineData("start ::= \"a\"", "the start rule 'root' is not defined")]
    [InlineData("root ::= \"a\"\nroot ::= \"b\"", "defined twice")]
    [InlineData("root ::= ( \"a\"", "leaves a group open")]
    [InlineData("root ::= \"a\" )", "closes a group it never opened")]
    [InlineData("root ::= \"a", "unterminated string")]
    [InlineData("root ::= [a-z", "unterminated character class")]
    [InlineData("root ::= \"a\"{2,x}", "malformed repetition")]
    [InlineData("root ::= \"a\" ; x", "unexpected ';'")]
    [InlineData("root = \"a\"", "is not a rule")]
    [InlineData("ro ot ::= \"a\"", "is not a rule name")]
    public void MalformedGrammars_AreArgumentErrors_NamingTheProblem(string gbnf, string problem)
    {
        var error = Assert.Throws<ArgumentException>(() => GbnfCheck.ThrowIfInvalid(gbnf, "root", "the schema 'X'"));

        Assert.Contains("the schema 'X'", error.Message, StringComparison.Ordinal);
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }
}
