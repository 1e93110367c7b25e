using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace ModelServer.Api;

/// <summary>How response bodies are written: compact, without escaping quotes and '+' (the bodies are JSON, never embedded in HTML).</summary>
internal static class Json
{
    private static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The node as compact JSON text.</summary>
    public static string Text(JsonNode node) => node.ToJsonString(Options);

    /// <summary>A 200 response holding <paramref name="node"/>.</summary>
    public static IResult Ok(JsonNode node) => Results.Text(Text(node), "application/json", System.Text.Encoding.UTF8);
}
