using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager;

// Structured output: a JSON response format becomes ONNX Runtime GenAI guidance (llguidance, "json_schema"), checked in managed code first.
internal sealed partial class OnnxGenAIModel
{
    /// <summary>The schema of <see cref="ChatResponseFormat.Json"/> without one: any JSON object.</summary>
    internal const string AnyObjectSchema = """{"type":"object"}""";

    /// <summary>The largest schema passed to llguidance, in UTF-16 chars of its JSON text; larger ones are refused before native code.</summary>
    internal const int MaxSchemaLength = 64 * 1024;

    /// <summary>The deepest nesting of objects and arrays a schema may have.</summary>
    internal const int MaxSchemaDepth = 32;

    /// <summary>The llguidance error prefix for a grammar it cannot build (a schema it rejects).</summary>
    private const string GrammarErrorPrefix = "Error creating grammar";

    /// <summary>The <c>json_schema</c> guidance for <paramref name="options"/>, or null for text; refuses tools and schemas native code should not see.</summary>
    /// <exception cref="NotSupportedException">Tools are offered: this backend cannot call them.</exception>
    /// <exception cref="ArgumentException">The schema is not a JSON object, too large or too deep.</exception>
    private string? GuidanceFor(GenerationOptions options)
    {
        if (options.OffersTools)
        {
            throw new NotSupportedException(
                $"Model '{_model.Name}' (type huggingface) cannot call tools: tool calls are supported on gguf and openai models. " +
                "A JSON response format (ChatResponseFormat.Json or ForJsonSchema) is enforced here.");
        }

        if (options.ResponseFormat is not ChatResponseFormatJson json)
        {
            return null; // text (or none)
        }

        if (json.Schema is not { } schema)
        {
            return AnyObjectSchema;
        }

        if (schema.ValueKind != JsonValueKind.Object)
        {
            throw new ArgumentException(
                $"The JSON schema for model '{_model.Name}' must be a JSON object; it is a {schema.ValueKind}.", nameof(options));
        }

        var text = schema.GetRawText();
        if (text.Length > MaxSchemaLength)
        {
            throw new ArgumentException(
                $"The JSON schema for model '{_model.Name}' is {text.Length} characters long; at most {MaxSchemaLength} are accepted.", nameof(options));
        }

        if (Depth(schema, 0) > MaxSchemaDepth)
        {
            throw new ArgumentException(
                $"The JSON schema for model '{_model.Name}' nests objects and arrays more than {MaxSchemaDepth} deep.", nameof(options));
        }

        return text;
    }

    /// <summary>Describes a native guidance error: a rejected schema is the caller's (ArgumentException), anything else the engine's.</summary>
    private Exception GuidanceError(Microsoft.ML.OnnxRuntimeGenAI.OnnxRuntimeGenAIException e)
    {
        if (e.Message.StartsWith(GrammarErrorPrefix, StringComparison.Ordinal))
        {
            return new ArgumentException(
                $"The JSON schema for model '{_model.Name}' is one ONNX Runtime GenAI's guidance (llguidance) cannot enforce: {e.Message}", e);
        }

        // Seen when the tokenizer knows more tokens than the model embeds (vocab_size): the grammar forces a token the model cannot produce.
        return new InvalidOperationException(
            $"ONNX Runtime GenAI's guidance failed while generating JSON with model '{_model.Name}' (its tokenizer may produce ids beyond the model's " +
            $"vocab_size of {_folder.VocabSize}, which guidance cannot force): {FirstLine(e.Message)}", e);
    }

    private static string FirstLine(string message) =>
        message.IndexOf('\n', StringComparison.Ordinal) is var i and >= 0 ? message[..i] : message;

    private static int Depth(JsonElement element, int depth)
    {
        if (depth > MaxSchemaDepth)
        {
            return depth;
        }

        var deepest = depth;
        if (element.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in element.EnumerateObject())
            {
                deepest = Math.Max(deepest, Depth(property.Value, depth + 1));
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in element.EnumerateArray())
            {
                deepest = Math.Max(deepest, Depth(item, depth + 1));
            }
        }

        return deepest;
    }
}
