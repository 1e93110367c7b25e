using System.Text.Json;
using System.Text.RegularExpressions;
using LLama;
using Microsoft.Extensions.AI;
using Xunit.Abstractions;

using static ModelManager.IntegrationTests.SchemaRecords;

namespace ModelManager.IntegrationTests;

public sealed partial class JsonSchemaGrammarTests(ITestOutputHelper output)
{
    private const int MaxTokens = 400;

    [Fact]
    public void FromSchema_Boolean_IsOneSharedRule()
    {
        Assert.Equal("root ::= boolean\nboolean ::= \"true\" | \"false\"\n", Convert("""{"type":"boolean"}"""));
    }

    [Fact]
    public void FromSchema_StringEnum_IsAlternativesOfQuotedLiterals()
    {
        Assert.Equal("root ::= \"\\\"a\\\"\" | \"\\\"b \\\\\\\"c\\\\\\\"\\\"\" | \"1.5\" | \"null\"\n", Convert("""{"enum":["a","b \"c\"",1.5,null]}"""));
    }

    [Fact]
    public void FromSchema_Const_IsOneLiteral()
    {
        Assert.Equal("root ::= \"true\"\n", Convert("""{"const":true,"description":"ignored"}"""));
    }

    [Fact]
    public void FromSchema_Object_PutsRequiredFirstInOrderThenOptionalOnes()
    {
        var gbnf = Convert("""{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"string"},"c":{"type":"null"}},"required":["c","a"],"additionalProperties":false}""");

        Assert.StartsWith("root ::= \"{\" ws \"\\\"a\\\"\" ws \":\" ws integer ws \",\" ws \"\\\"c\\\"\" ws \":\" ws null ( ws \",\" ws \"\\\"b\\\"\" ws \":\" ws string )? ws \"}\"\n", gbnf, StringComparison.Ordinal);
        Assert.Contains("\ninteger ::= ", gbnf, StringComparison.Ordinal);
        Assert.Contains("\nws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n", gbnf, StringComparison.Ordinal);
    }

    [Fact]
    public void FromSchema_NullableArrayWithBounds_IsArrayOrNull()
    {
        var gbnf = Convert("""{"type":["array","null"],"items":{"type":"boolean"},"minItems":1,"maxItems":3}""");

        Assert.StartsWith("root ::= ( \"[\" ws boolean ( ws \",\" ws boolean ){0,2} ws \"]\" ) | null\n", gbnf, StringComparison.Ordinal);
    }

    [Fact]
    public void FromSchema_ArrayWithoutMaxItems_StopsAtDefaultMaxItems_OrAtMinItemsIfMore()
    {
        // A small model may never close an unbounded array: the grammar narrows it (JsonSchemaGrammar.DefaultMaxItems = 64).
        Assert.StartsWith("root ::= \"[\" ws integer ( ws \",\" ws integer ){2,63} ws \"]\"\n", Convert("""{"type":"array","items":{"type":"integer"},"minItems":3}"""), StringComparison.Ordinal);
        Assert.StartsWith("root ::= \"[\" ws integer ( ws \",\" ws integer ){99,99} ws \"]\"\n", Convert("""{"type":"array","items":{"type":"integer"},"minItems":100}"""), StringComparison.Ordinal);
        Assert.StartsWith("root ::= \"[\" ws ( integer ( ws \",\" ws integer ){0,63} )? ws \"]\"\n", Convert("""{"type":"array","items":{"type":"integer"}}"""), StringComparison.Ordinal);
    }

    [Fact]
    public void FromSchema_PointerReference_SharesTheTargetRule()
    {
        var gbnf = Convert("""{"type":"object","properties":{"a":{"type":"object","properties":{"x":{"type":"boolean"}},"required":["x"]},"b":{"$ref":"#/properties/a"}},"required":["a","b"]}""");

        Assert.StartsWith("root ::= \"{\" ws \"\\\"a\\\"\" ws \":\" ws a ws \",\" ws \"\\\"b\\\"\" ws \":\" ws a ws \"}\"\n", gbnf, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"type":"object","properties":{"age":{"type":"number","minimum":0.1,"maximum":0.9}}}""", "$.properties.age.maximum")]
    [InlineData("""{"type":"object","properties":{"age":{"type":"integer","exclusiveMinimum":5,"exclusiveMaximum":6}}}""", "$.properties.age.maximum")]
    [InlineData("""{"type":"object","properties":{"name":{"type":"string","pattern":"^(?=a)"}}}""", "$.properties.name.pattern")]
    [InlineData("""{"type":"object","properties":{"name":{"type":"string","pattern":"(a)\\1"}}}""", "$.properties.name.pattern")]
    [InlineData("""{"type":"object","properties":{"name":{"type":"string","pattern":"\\bword"}}}""", "$.properties.name.pattern")]
    [InlineData("""{"type":"object","properties":{"name":{"type":"string","pattern":"[\"]"}}}""", "$.properties.name.pattern")]
    [InlineData("""{"type":"object","properties":{"name":{"type":"string","pattern":"a","maxLength":3}}}""", "$.properties.name.maxLength")]
    [InlineData("""{"type":"object","properties":{"name":{"type":"string","minLength":513}}}""", "$.properties.name.minLength")]
    [InlineData("""{"type":"object","properties":{"mail":{"type":"string","format":"ipv6"}}}""", "$.properties.mail.format")]
    [InlineData("""{"type":"array","items":{"type":"integer"},"uniqueItems":true}""", "$.uniqueItems")]
    [InlineData("""{"type":"array","prefixItems":[{"type":"integer"}]}""", "$.prefixItems")]
    [InlineData("""{"type":"array","minItems":100000}""", "$.minItems")]
    [InlineData("""{"type":"object","patternProperties":{"^x":{}}}""", "$.patternProperties")]
    [InlineData("""{"not":{"type":"null"}}""", "$.not.type")]
    [InlineData("""{"type":"string","enum":["a","b"],"not":{"const":"a"}}""", "$.not")]
    [InlineData("""{"if":{"type":"null"},"then":{"type":"null"}}""", "$.if")]
    [InlineData("""{"allOf":[{"type":"null"}]}""", "$.allOf")]
    [InlineData("""{"anyOf":[{"type":"null"},{"type":"object","propertyNames":{"maxLength":3}}]}""", "$.anyOf[1].propertyNames")]
    [InlineData("""{"$defs":{"A":{"type":"integer","multipleOf":2}},"type":"object","properties":{"x":{"$ref":"#/$defs/A"}}}""", "$.$defs.A.multipleOf")]
    [InlineData("""{"type":"object","properties":{"x":{"$ref":"other.json#/A"}}}""", "$.properties.x.$ref")]
    [InlineData("""{"type":"object","properties":{"x":{"$ref":"#/$defs/A","type":"integer"}},"$defs":{"A":{}}}""", "$.properties.x.type")]
    public void FromSchema_UnenforceableKeyword_ThrowsNamingItsPath(string schema, string path)
    {
        var error = Assert.Throws<NotSupportedException>(() => Convert(schema));

        Assert.Contains(" " + path + " ", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromSchema_TooManyRules_ThrowsNamingTheCap()
    {
        var properties = string.Join(",", Enumerable.Range(0, JsonSchemaGrammar.MaxRules + 1).Select(i => $"\"p{i}\":{{\"const\":{i}}}"));

        var error = Assert.Throws<NotSupportedException>(() => Convert("{\"type\":\"object\",\"properties\":{" + properties + "}}"));

        Assert.Contains("JsonSchemaGrammar.MaxRules", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromSchema_TooManyCharacters_ThrowsNamingTheCap()
    {
        var error = Assert.Throws<NotSupportedException>(() => Convert($$"""{"const":"{{new string('x', JsonSchemaGrammar.MaxGrammarLength)}}"}"""));

        Assert.Contains("JsonSchemaGrammar.MaxGrammarLength", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void FromSchema_RecursiveReferences_EndWithOneRulePerDefinition()
    {
        var gbnf = Convert("""{"$ref":"#/$defs/Node","$defs":{"Node":{"type":"object","properties":{"next":{"anyOf":[{"$ref":"#/$defs/Node"},{"type":"null"}]},"up":{"$ref":"#"}},"required":["next"]}}}""");

        Assert.StartsWith("root ::= Node\n", gbnf, StringComparison.Ordinal);
        Assert.Single(RuleNames(gbnf), n => n == "Node");
        Assert.Contains("\nNode-next ::= Node | null\n", gbnf, StringComparison.Ordinal);
        Assert.Contains("\"\\\"up\\\"\" ws \":\" ws root )?", gbnf, StringComparison.Ordinal);
    }

    [Fact]
    public void FromSchema_AwkwardPropertyNames_GiveValidDistinctRuleNames()
    {
        var gbnf = Convert("""{"type":"object","properties":{"a b":{"const":1},"a-b":{"const":2},"string":{"const":3},"ünï/cødé":{"const":4},"%%":{"const":5},"root":{"const":6}},"required":["a b"]}""");

        var names = RuleNames(gbnf);
        Assert.All(names, n => Assert.Matches("^[A-Za-z0-9-]+$", n));
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.Contains("a-b", names);
        Assert.Contains("a-b-2", names);
        Assert.Contains("string-2", names);
        Assert.Contains("n-c-d", names);
        Assert.Contains("r", names);
        Assert.Contains("root-2", names);
        Assert.Contains("\"\\\"ünï/cødé\\\"\"", gbnf, StringComparison.Ordinal);
    }

    [Fact]
    public void AnyObject_IsABoundedObjectOfScalarsAndContainers()
    {
        AssertEveryRuleIsDefined(JsonSchemaGrammar.AnyObject);
        Assert.StartsWith("root ::= object-1\n", JsonSchemaGrammar.AnyObject, StringComparison.Ordinal);
        Assert.Contains("\nscalar ::= string | number | boolean | null\n", JsonSchemaGrammar.AnyObject, StringComparison.Ordinal);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public Task Stories260K_FlatRecord_AlwaysGivesAValidPet() => AssertGeneratesValid<Pet>();

    [SharedModelFact("stories260K/stories260K.gguf")]
    public Task Stories260K_NestedRecordWithListAndNullable_AlwaysGivesAValidShelter() => AssertGeneratesValid<Shelter>();

    [SharedModelFact("stories260K/stories260K.gguf")]
    public Task Stories260K_RecursiveRecord_AlwaysGivesAValidTree() => AssertGeneratesValid<TreeNode>();

    [SharedModelFact("stories260K/stories260K.gguf")]
    public Task Stories260K_NumbersDatesAndUuids_AlwaysGiveAValidReading() => AssertGeneratesValid<Reading>();

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Stories260K_HandWrittenSchemas_AreAcceptedByLlamaCppAndAlwaysSatisfied()
    {
        string[] schemas =
        [
            """{"type":"object","properties":{"a":{"type":"boolean"},"b":{"type":"null"},"c":{"const":"x"}},"additionalProperties":false}""",
            """{"type":"array","items":{"enum":[1,2,"three",true,null]},"minItems":2,"maxItems":4}""",
            """{"type":"array","items":{"type":"integer"},"minItems":3,"maxItems":5}""",
            """{"type":"object","properties":{"a":{"type":"object","properties":{"x":{"type":"boolean"}},"required":["x"]},"b":{"$ref":"#/properties/a"}},"required":["a","b"]}""",
            """{"type":"array","maxItems":0}""",
            """{"type":"object","additionalProperties":{"type":"integer"}}""",
            """{"type":"object","additionalProperties":false}""",
            """{"type":"string","minLength":2,"maxLength":5}""",
            """{"oneOf":[{"type":"integer"},{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"]}]}""",
            """{"$ref":"#/$defs/List","$defs":{"List":{"type":"object","properties":{"head":{"type":"boolean"},"tail":{"anyOf":[{"$ref":"#/$defs/List"},{"type":"null"}]}},"required":["head","tail"]}}}""",
            """{"type":"string","format":"date-time"}""",
            """{"enum":["quote \" backslash \\ tab \t é"]}""",
            """{"type":"string","pattern":"^-?(\\d+\\.)?\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,7})?$"}""",
            """{"type":"string","pattern":"[abc]"}""",
            """{"type":"string","pattern":"^[A-Z]{3}-\\d{2,4}(?:x|yz)*$"}""",
            """{"type":"string","pattern":"^[^a-z0-9]+\\.\\w?$"}""",
            """{"type":"object","properties":{"mail":{"type":"string","format":"email"},"site":{"type":"string","format":"uri"},"host":{"type":"string","format":"hostname"},"ip":{"type":"string","format":"ipv4"},"path":{"type":"string","format":"uri-reference"}},"required":["mail","site","host","ip","path"]}""",
            """{"type":"object","properties":{"value":{"type":"integer","minimum":25,"maximum":75},"id":{"type":"number","minimum":1,"maximum":100},"neg":{"type":"integer","exclusiveMaximum":-3},"big":{"type":"integer","minimum":1000000}},"required":["value","id","neg","big"]}""",
            """{"type":["string","null"],"not":{"enum":["abc","def","default"]},"maxLength":20}""",
            """{"type":"string","maxLength":100000}""",
        ];
        using var weights = GrammarSampler.LoadStories();
        foreach (string text in schemas)
        {
            using var schema = JsonDocument.Parse(text);
            var gbnf = JsonSchemaGrammar.FromSchema(schema.RootElement);
            AssertEveryRuleIsDefined(gbnf);
            for (uint seed = 1; seed <= 3; seed++)
            {
                var (json, pieces) = await GenerateAsync(weights, gbnf, seed);
                output.WriteLine($"{text} seed {seed}, {pieces} pieces: {json}");
                Assert.True(pieces < MaxTokens, $"{text}, seed {seed}: the grammar did not complete within {MaxTokens} tokens: {json}");
                using var document = JsonDocument.Parse(json);
                SchemaCheck.Validate(schema.RootElement, schema.RootElement, document.RootElement, "$");
            }
        }
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Stories260K_AnyObject_AlwaysGivesAJsonObject()
    {
        using var weights = GrammarSampler.LoadStories();
        for (uint seed = 1; seed <= 5; seed++)
        {
            var (text, pieces) = await GenerateAsync(weights, JsonSchemaGrammar.AnyObject, seed);
            output.WriteLine($"seed {seed}, {pieces} pieces: {text}");
            Assert.True(pieces < MaxTokens, $"seed {seed}: the grammar did not complete within {MaxTokens} tokens: {text}");
            using var document = JsonDocument.Parse(text);
            Assert.Equal(JsonValueKind.Object, document.RootElement.ValueKind);
        }
    }

    private async Task AssertGeneratesValid<T>()
    {
        var schema = AIJsonUtilities.CreateJsonSchema(typeof(T));
        output.WriteLine(schema.GetRawText());
        var gbnf = JsonSchemaGrammar.FromSchema(schema);
        output.WriteLine(gbnf);
        AssertEveryRuleIsDefined(gbnf);
        using var weights = GrammarSampler.LoadStories();
        for (uint seed = 0; seed <= 5; seed++)
        {
            var (text, pieces) = await GenerateAsync(weights, gbnf, seed);
            output.WriteLine($"seed {seed}, {pieces} pieces: {text}");
            Assert.True(pieces < MaxTokens, $"seed {seed}: the grammar did not complete within {MaxTokens} tokens: {text}");
            using var document = JsonDocument.Parse(text);
            SchemaCheck.Validate(schema, schema, document.RootElement, "$");
            Assert.NotNull(JsonSerializer.Deserialize<T>(text, AIJsonUtilities.DefaultOptions));
        }
    }

    private static Task<(string Text, int Pieces)> GenerateAsync(LLamaWeights weights, string gbnf, uint seed) =>
        GrammarSampler.GenerateAsync(weights, gbnf, seed, MaxTokens, 512);

    private static string Convert(string schema)
    {
        using var document = JsonDocument.Parse(schema);
        var gbnf = JsonSchemaGrammar.FromSchema(document.RootElement);
        AssertEveryRuleIsDefined(gbnf);
        return gbnf;
    }

    /// <summary>llama.cpp aborts the process on an undefined rule, so every grammar is checked in managed code first, as the backend does.</summary>
    private static void AssertEveryRuleIsDefined(string gbnf) => GbnfCheck.ThrowIfInvalid(gbnf, JsonSchemaGrammar.RootRule, "a test schema");

    private static List<string> RuleNames(string gbnf) =>
        [.. RuleLine().Matches(gbnf).Select(m => m.Groups[1].Value)];

    [GeneratedRegex("^(\\S+) ::= ", RegexOptions.Multiline)]
    private static partial Regex RuleLine();
}
