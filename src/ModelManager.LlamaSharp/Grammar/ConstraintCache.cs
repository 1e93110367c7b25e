using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>One model's grammars for the response formats its callers ask for, converted once per distinct schema.</summary>
/// <remarks>Thread-safe. Bounded: past <see cref="Capacity"/> distinct schemas the cache starts over (agents reuse a handful of types).</remarks>
internal sealed class ConstraintCache(string modelName)
{
    /// <summary>The most distinct schemas kept (64).</summary>
    public const int Capacity = 64;

    private static readonly OutputConstraint AnyObject = OutputConstraint.Create(JsonSchemaGrammar.AnyObject, null, "any JSON object");

    private readonly ConcurrentDictionary<string, OutputConstraint> _schemas = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, OutputConstraint> _tools = new(StringComparer.Ordinal);

    /// <summary>The constraint for <paramref name="format"/>: none for text, any object for JSON, the schema's grammar for a schema.</summary>
    /// <exception cref="NotSupportedException">The schema uses a feature no grammar can enforce; the message names the model, the schema and the JSON path.</exception>
    /// <exception cref="ArgumentException">The schema is not a valid JSON schema; the message names the model and the schema.</exception>
    public OutputConstraint? ForResponse(ChatResponseFormat? format)
    {
        if (format is null or ChatResponseFormatText)
        {
            return null;
        }

        if (format is not ChatResponseFormatJson json)
        {
            throw new NotSupportedException($"Model '{modelName}': the response format {format.GetType().Name} is not one the gguf backend knows.");
        }

        if (json.Schema is not { } schema)
        {
            return AnyObject;
        }

        var key = schema.GetRawText();
        if (_schemas.TryGetValue(key, out var cached))
        {
            return cached;
        }

        var what = json.SchemaName is { Length: > 0 } schemaName ? $"the JSON schema '{schemaName}'" : "the JSON schema";
        string gbnf;
        try
        {
            gbnf = JsonSchemaGrammar.FromSchema(schema);
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"Model '{modelName}' cannot enforce {what}: {e.Message}", e);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or JsonException)
        {
            throw new ArgumentException($"Model '{modelName}': {what} is not a valid JSON schema: {e.Message}", nameof(format), e);
        }

        var constraint = OutputConstraint.Create(gbnf, null, $"{what} (model '{modelName}')");
        if (_schemas.Count >= Capacity)
        {
            _schemas.Clear();
        }

        _schemas[key] = constraint;
        return constraint;
    }

    /// <summary>The constraint for calls to <paramref name="tools"/> in <paramref name="format"/>: from the first token, or (<paramref name="lazy"/>) from the format's trigger on.</summary>
    /// <exception cref="NotSupportedException">A tool's parameters schema cannot be enforced; the message names the model, the tool and the JSON path.</exception>
    /// <exception cref="ArgumentException">A tool's parameters schema is malformed, or two tools share a name; the message names the model.</exception>
    public OutputConstraint ForTools(ToolCallFormat format, IReadOnlyList<AIFunctionDeclaration> tools, bool single, bool lazy)
    {
        var key = new System.Text.StringBuilder().Append(format.Name).Append(single ? "|1|" : "|n|").Append(lazy ? "lazy" : "now");
        foreach (var tool in tools)
        {
            key.Append('\n').Append(tool.Name).Append('\n').Append(tool.JsonSchema.GetRawText());
        }

        var text = key.ToString();
        if (_tools.TryGetValue(text, out var cached))
        {
            return cached;
        }

        string gbnf;
        try
        {
            gbnf = lazy ? format.TriggeredGrammar(tools, single) : format.CallGrammar(tools, single);
        }
        catch (NotSupportedException e)
        {
            throw new NotSupportedException($"Model '{modelName}': {e.Message}", e);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"Model '{modelName}': {e.Message}", nameof(tools), e);
        }

        var names = string.Join(", ", tools.Select(t => t.Name));
        var constraint = OutputConstraint.Create(gbnf, lazy ? format.Trigger : null, $"calls to {names} (model '{modelName}')");
        if (_tools.Count >= Capacity)
        {
            _tools.Clear();
        }

        _tools[text] = constraint;
        return constraint;
    }
}
