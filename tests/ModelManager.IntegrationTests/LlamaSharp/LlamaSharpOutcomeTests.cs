using System.Text;
using LLama;
using LLama.Common;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.IntegrationTests;

/// <summary>What the gguf backend reports per call (token counts, finish reason), checked against stories260K's own tokenizer.</summary>
public sealed class LlamaSharpOutcomeTests
{
    private const string Prompt = "Once upon a time";
    private const string Marker = "stories260K/stories260K.gguf";
    private static readonly GenerationOptions Greedy = new() { DoSample = false };

    [SharedModelFact(Marker)]
    public async Task GenerateResultAsync_MaxTokens7_ReportsSevenGeneratedTokens_AndTheTokenizersPromptCount()
    {
        await using var stories = GgufManagers.CreateStories();

        var result = await stories.Model.GenerateResultAsync(Prompt, Greedy with { MaxTokens = 7 });

        Assert.Equal(GenerationFinishReason.MaxTokens, result.Outcome.FinishReason);
        Assert.Equal(7, result.Outcome.GeneratedTokens);
        Assert.Equal(CountTokens(Prompt), result.Outcome.PromptTokens);
        Assert.Equal(0, result.Outcome.CachedPromptTokens);
        Assert.Equal(result.Outcome.PromptTokens + 7, result.Outcome.TotalTokens);
        Assert.Equal("stories", result.ModelName);
        Assert.StartsWith(Prompt + result.Text, GgufManagers.StoriesReference, StringComparison.Ordinal);
    }

    [SharedModelFact(Marker)]
    public async Task GenerateResultAsync_PromptTokens_IsTheCountOfTheTokensEvaluated_BosIncluded()
    {
        await using var stories = GgufManagers.CreateStories();
        string[] prompts = ["Once", "Once upon a time", "The little dog ran to the park and saw a big red ball."];

        foreach (var prompt in prompts)
        {
            var result = await stories.Model.GenerateResultAsync(prompt, Greedy with { MaxTokens = 2 });
            Assert.Equal(CountTokens(prompt), result.Outcome.PromptTokens);
        }

        // The counts differ, so the figure follows the prompt rather than being a constant.
        Assert.Equal(3, prompts.Select(CountTokens).Distinct().Count());
    }

    [SharedModelFact(Marker)]
    public async Task GenerateResultAsync_StopSequence_EndsBeforeIt_AndCountsTheTokenThatCompletedIt()
    {
        await using var stories = GgufManagers.CreateStories();

        // Without stops every token streams as one piece: the tokens needed to produce " Lily" are the pieces up to it.
        var text = new StringBuilder();
        var needed = 0;
        await foreach (var update in stories.Model.GenerateUpdatesAsync(Prompt, Greedy with { MaxTokens = 20 }))
        {
            if (!update.IsFinal && !text.ToString().Contains(" Lily", StringComparison.Ordinal))
            {
                text.Append(update.Text);
                needed++;
            }
        }

        var cut = await stories.Model.GenerateResultAsync(Prompt, Greedy with { MaxTokens = 20, StopSequences = [" Lily"] });

        var full = text.ToString();
        Assert.Contains(" Lily", full, StringComparison.Ordinal);
        Assert.Equal(GenerationFinishReason.StopSequence, cut.Outcome.FinishReason);
        Assert.Equal(full[..full.IndexOf(" Lily", StringComparison.Ordinal)], cut.Text);
        Assert.Equal(needed, cut.Outcome.GeneratedTokens);
        Assert.Equal(CountTokens(Prompt), cut.Outcome.PromptTokens);
    }

    [SharedModelFact(Marker)]
    public async Task GenerateResultAsync_WhenTheContextIsWhatLimits_ReportsContextFull()
    {
        var (services, manager) = GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Stories().Replace("\"context_length\": 256", "\"context_length\": 16", StringComparison.Ordinal)}} ] }""");
        await using var _ = services;

        var result = await manager.GetModel("stories").GenerateResultAsync(Prompt, Greedy with { MaxTokens = 100 });
        var exact = await manager.GetModel("stories").GenerateResultAsync(Prompt, Greedy with { MaxTokens = 16 - CountTokens(Prompt) });

        Assert.Equal(GenerationFinishReason.ContextFull, result.Outcome.FinishReason);
        Assert.Equal(16 - CountTokens(Prompt), result.Outcome.GeneratedTokens);
        Assert.Equal(GenerationFinishReason.MaxTokens, exact.Outcome.FinishReason); // max_tokens fits exactly: max_tokens ended it
        Assert.Equal(result.Outcome.GeneratedTokens, exact.Outcome.GeneratedTokens);
    }

    [SharedModelFact(Marker)]
    public async Task GenerateResultAsync_TheModelsEndOfSequence_ReportsEndOfSequence_WithoutCountingIt()
    {
        // Greedy stories260K never ends a story within its context, so a copy declares " Lily" its end-of-sequence token:
        // ", there was a little girl named" is then followed by EOS.
        const string before = "Once upon a time, there was a little girl named";
        var prefix = Tokenize(before);
        var full = Tokenize(before + " Lily");
        Assert.Equal(prefix, full[..prefix.Length]);
        var path = CopyWithEos(full[prefix.Length]);
        var (services, manager) = GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Gguf("eos", path)}} ] }""");
        await using var _ = services;

        var result = await manager.GetModel("eos").GenerateResultAsync(Prompt, Greedy with { MaxTokens = 40 });

        Assert.Equal(GenerationFinishReason.EndOfSequence, result.Outcome.FinishReason);
        Assert.Equal(before[Prompt.Length..], result.Text);
        Assert.Equal(prefix.Length - CountTokens(Prompt), result.Outcome.GeneratedTokens); // the EOS is neither text nor counted
        Assert.Equal(CountTokens(Prompt), result.Outcome.PromptTokens);
    }

    [SharedModelFact(Marker)]
    public async Task KeyedChatClient_MaxOutputTokens7_ReportsLength_AndUsageOfTheRenderedPrompt()
    {
        var (services, _) = GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Stories()}} ], "agents": { "StoryAgent": { "model": "stories" } } }""");
        await using var _s = services;
        var chat = services.GetRequiredKeyedService<IChatClient>("StoryAgent");
        ChatMessage[] messages = [new(ChatRole.System, "You tell stories."), new(ChatRole.User, "Tell me a story")];

        var response = await chat.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 7, Temperature = 0 });

        // stories260K has no chat template: the backend renders the documented plain format.
        var rendered = "System: You tell stories.\nUser: Tell me a story\nAssistant:";
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.NotNull(response.Usage);
        Assert.Equal(7, response.Usage.OutputTokenCount);
        Assert.Equal(CountTokens(rendered), response.Usage.InputTokenCount);
        Assert.Equal(response.Usage.InputTokenCount + response.Usage.OutputTokenCount, response.Usage.TotalTokenCount);
        Assert.Equal(0, response.Usage.CachedInputTokenCount ?? 0);
    }

    [SharedModelFact(Marker)]
    public async Task ChatClient_StopSequenceInTheGreedyReply_ReportsStop_AndTheTextEndsBeforeIt()
    {
        await using var stories = GgufManagers.CreateStories();
        var chat = stories.Model.AsChatClient();
        ChatMessage[] messages = [new(ChatRole.User, "Tell me a story")];
        var full = await chat.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 30, Temperature = 0 });
        var words = full.Text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(words.Length >= 4, $"reply too short to pick a stop from: «{full.Text}»");
        var stop = " " + words[2];

        var cut = await chat.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 30, Temperature = 0, StopSequences = [stop] });

        Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);
        Assert.Equal(full.Text[..full.Text.IndexOf(stop, StringComparison.Ordinal)], cut.Text);
        Assert.True(cut.Usage!.OutputTokenCount < full.Usage!.OutputTokenCount);
        Assert.Equal(full.Usage.InputTokenCount, cut.Usage.InputTokenCount);
    }

    [SharedModelFact(Marker)]
    public async Task ChatClient_Streaming_HasExactlyOneUsageContent_OnTheLastUpdate_EqualToTheNonStreamingUsage()
    {
        await using var stories = GgufManagers.CreateStories();
        var chat = stories.Model.AsChatClient();
        ChatMessage[] messages = [new(ChatRole.User, "Tell me a story")];
        var options = new ChatOptions { MaxOutputTokens = 12, Temperature = 0 };
        var response = await chat.GetResponseAsync(messages, options);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(messages, options))
        {
            updates.Add(update);
        }

        ChatAssert.StreamMatchesResponse(response, updates, outputTokens: 12);
    }

    /// <summary>stories260K's tokenizer on <paramref name="text"/>, as llama.cpp evaluates a prompt: BOS when the vocabulary asks for it.</summary>
    private static int CountTokens(string text) => Tokenize(text).Length;

    private static int[] Tokenize(string text)
    {
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(SharedModels.Stories260K) { GpuLayerCount = 0 });
        return [.. weights.Tokenize(text, add_bos: weights.Vocab.ShouldAddBOS, special: true, Encoding.UTF8).Select(t => (int)t)];
    }

    /// <summary>A scratch copy of stories260K whose <c>tokenizer.ggml.eos_token_id</c> is <paramref name="eos"/>.</summary>
    private static string CopyWithEos(int eos)
    {
        var bytes = File.ReadAllBytes(SharedModels.Stories260K);
        var key = Encoding.UTF8.GetBytes("tokenizer.ggml.eos_token_id");
        var at = bytes.AsSpan().IndexOf(key);
        Assert.True(at > 0, "stories260K declares no eos_token_id");
        var type = at + key.Length; // GGUF: key, then the value's type (4 = uint32, 5 = int32), then the value
        Assert.Contains(BitConverter.ToUInt32(bytes, type), new uint[] { 4, 5 });
        BitConverter.TryWriteBytes(bytes.AsSpan(type + 4, 4), eos);
        var path = Path.Combine(TestCache.NewScratchDirectory(), "stories-eos.gguf");
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
