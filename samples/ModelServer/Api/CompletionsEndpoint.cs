using System.Text.Json;
using System.Text.Json.Nodes;
using ModelManager;

namespace ModelServer.Api;

/// <summary><c>POST /v1/completions</c>: a raw prompt continued by the model, no chat template; whole or streamed.</summary>
internal sealed class CompletionsEndpoint()
    : CompletionEndpoint<string>("ModelServer.Completions", "cmpl-", "text_completion", "text_completion")
{
    protected override string InputParam => "prompt";

    protected override string ReadInput(JsonElement body) => ReadPrompt(body);

    protected override void RejectUnsupported(JsonElement body)
    {
        RequestReader.Unsupported(body, "echo", "suffix", "logprobs");
        RequestReader.Unhonoured(body);
        RequestReader.OnlyOne(body, "best_of");
    }

    protected override async Task<Generation> GenerateAsync(ILanguageModel model, string input, GenerationOptions options, CancellationToken cancellationToken)
    {
        var result = await model.GenerateResultAsync(input, options, cancellationToken);
        return new Generation(result.Text, result.ModelName, ToEnding(result.Outcome));
    }

    protected override IAsyncEnumerable<Generation> GenerateStreamingAsync(ILanguageModel model, string input, GenerationOptions options, CancellationToken cancellationToken) =>
        model.GenerateUpdatesAsync(input, options, cancellationToken)
            .Select(update => new Generation(update.Text, update.ModelName, update.Outcome is { } outcome ? ToEnding(outcome) : null));

    protected override JsonObject ResponseChoice(Generation result, string finishReason) => Choice(result.Text, finishReason);

    protected override JsonObject? ChunkChoice(Generation piece, ref int callIndex) => piece.Text.Length > 0 ? Choice(piece.Text, null) : null;

    protected override JsonObject ClosingChoice(string finishReason) => Choice("", finishReason);

    private static Ending ToEnding(GenerationOutcome o) => new(o.IsTruncated, o.PromptTokens, o.GeneratedTokens, o.CachedPromptTokens);

    private static JsonObject Choice(string text, string? finishReason) => new()
    {
        ["text"] = text,
        ["index"] = 0,
        ["logprobs"] = null,
        ["finish_reason"] = finishReason,
    };

    private static string ReadPrompt(JsonElement body)
    {
        if (!body.TryGetProperty("prompt", out var prompt) || prompt.ValueKind == JsonValueKind.Null)
        {
            throw RequestReader.Missing("prompt");
        }

        return prompt.ValueKind switch
        {
            JsonValueKind.String => prompt.GetString()!,
            JsonValueKind.Array when prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String => prompt[0].GetString()!,
            JsonValueKind.Array => throw RequestReader.Invalid("prompt", "exactly one prompt string is supported (no batches, no token arrays)"),
            _ => throw RequestReader.Invalid("prompt", $"must be a string, got {RequestReader.Describe(prompt.ValueKind)}"),
        };
    }
}
