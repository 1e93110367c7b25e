using Microsoft.Extensions.AI;

namespace ModelManager.IntegrationTests;

/// <summary>A prompt far beyond the context is rejected by its size, before the tokenizer sees it, so it costs no more memory than a small one.</summary>
public sealed class HugePromptTests
{
    private static readonly string Huge = new('a', 25 * 1024 * 1024);

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Gguf_A25MBPrompt_IsRejectedBeforeTokenizing_AndTheModelStillServes()
    {
        await using var m = GgufManagers.CreateStories();

        var error = await Assert.ThrowsAsync<ContextLengthExceededException>(() => m.Model.GenerateAsync(Huge));
        var chat = await Assert.ThrowsAsync<ContextLengthExceededException>(() => m.Model.AsChatClient().GetResponseAsync(Huge));
        var overContext = await Assert.ThrowsAsync<ContextLengthExceededException>(() => m.Model.GenerateAsync(string.Concat(Enumerable.Repeat("a ", 300))));
        var after = await m.Model.GenerateResultAsync("Once upon a time");

        Assert.Null(error.PromptTokens); // measured, not tokenized
        Assert.Null(chat.PromptTokens);
        Assert.True(overContext.PromptTokens > overContext.ContextLength, $"{overContext.PromptTokens}"); // within the byte bound: tokenized, then refused
        Assert.Contains("bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("model 'stories'", error.Message, StringComparison.Ordinal);
        Assert.Contains("bytes", chat.Message, StringComparison.Ordinal);
        Assert.Contains("tokens but", overContext.Message, StringComparison.Ordinal); // within the byte bound: tokenized, then refused
        Assert.True(after.Outcome.GeneratedTokens > 0);
    }

    [SharedModelFact("tiny-random-gpt2-fp32/genai_config.json")]
    public async Task Onnx_A25MBPrompt_IsRejectedBeforeTokenizing()
    {
        await using var m = OnnxManagers.CreateTiny();

        var error = await Assert.ThrowsAsync<ContextLengthExceededException>(() => m.Model.GenerateAsync(Huge));

        Assert.Contains("bytes", error.Message, StringComparison.Ordinal);
        Assert.Contains("model 'tiny'", error.Message, StringComparison.Ordinal);
    }
}
