using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager.IntegrationTests;

/// <summary>What the huggingface backend reports per call (token counts, finish reason), checked against the tiny GPT-2's own tokenizer.</summary>
public sealed class OnnxGenAIOutcomeTests
{
    // Joins the contents with spaces, so ["a b", "c d"] renders "a b c d": ids the 1000-token vocabulary can embed.
    private const string Template = "{% for m in messages %}{{ m.content }}{% if not loop.last %} {% endif %}{% endfor %}";
    private const string Stop = "\u0010"; // the text of id 204, the third greedy token after "a b c d"
    private static readonly GenerationOptions Greedy = new() { DoSample = false };
    private static readonly ChatMessage[] Messages = [new(ChatRole.System, "a b"), new(ChatRole.User, "c d")];

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task GenerateResultAsync_MaxTokens7_ReportsSevenGeneratedTokens_AndTheTokenizersPromptCount()
    {
        await using var tiny = OnnxManagers.CreateTiny();

        var result = await tiny.Model.GenerateResultAsync(OnnxManagers.Prompt, Greedy with { MaxTokens = 7 });

        Assert.Equal(GenerationFinishReason.MaxTokens, result.Outcome.FinishReason);
        Assert.Equal(7, result.Outcome.GeneratedTokens);
        Assert.Equal(await CountTokensAsync(OnnxManagers.Prompt), result.Outcome.PromptTokens);
        Assert.Equal(OnnxManagers.PromptIds.Length, result.Outcome.PromptTokens);
        Assert.Equal(0, result.Outcome.CachedPromptTokens);
        Assert.Equal(result.Outcome.PromptTokens + 7, result.Outcome.TotalTokens);
        Assert.StartsWith(" d d", result.Text, StringComparison.Ordinal);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task GenerateResultAsync_PromptTokens_FollowsThePrompt()
    {
        await using var tiny = OnnxManagers.CreateTiny();
        string[] prompts = ["a", "a b c d", "a b c d e f g h"];

        foreach (var prompt in prompts)
        {
            var result = await tiny.Model.GenerateResultAsync(prompt, Greedy with { MaxTokens = 2 });
            Assert.Equal(await CountTokensAsync(prompt), result.Outcome.PromptTokens);
        }

        Assert.Equal(3, (await Task.WhenAll(prompts.Select(CountTokensAsync))).Distinct().Count());
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task GenerateResultAsync_StopSequence_EndsBeforeIt_AndCountsTheTokenThatCompletedIt()
    {
        await using var tiny = OnnxManagers.CreateTiny();

        var result = await tiny.Model.GenerateResultAsync(OnnxManagers.Prompt, Greedy with { MaxTokens = 10, StopSequences = [Stop] });

        Assert.Equal(GenerationFinishReason.StopSequence, result.Outcome.FinishReason);
        Assert.Equal(" d d", result.Text);
        Assert.Equal(3, result.Outcome.GeneratedTokens); // 288, 288, then 204 (the stop)
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task Generate_WhenTheContextIsWhatLimits_ReportsContextFull()
    {
        await using var direct = await OnnxManagers.LoadDirectAsync("short", OnnxManagers.TinyGpt2, contextLength: 12);

        var clipped = await OutcomeAsync(direct.Model.GenerateAsync(OnnxManagers.Prompt, Greedy with { MaxTokens = 50 }, CancellationToken.None));
        var exact = await OutcomeAsync(direct.Model.GenerateAsync(OnnxManagers.Prompt, Greedy with { MaxTokens = 8 }, CancellationToken.None));

        Assert.Equal(GenerationFinishReason.ContextFull, clipped.FinishReason);
        Assert.Equal(8, clipped.GeneratedTokens);
        Assert.Equal(GenerationFinishReason.MaxTokens, exact.FinishReason); // max_tokens fits exactly: max_tokens ended it
        Assert.Equal(8, exact.GeneratedTokens);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task Generate_EosTokenFromGenaiConfig_ReportsEndOfSequence_WithoutCountingIt()
    {
        var folder = OnnxManagers.CopyTiny();
        OnnxManagers.EditConfig(folder, m => m["eos_token_id"] = 204);
        await using var direct = await OnnxManagers.LoadDirectAsync("eos", folder);

        var text = "";
        GenerationOutcome? outcome = null;
        await foreach (var update in direct.Model.GenerateAsync(OnnxManagers.Prompt, Greedy with { MaxTokens = 50 }, CancellationToken.None))
        {
            text += update.Text;
            outcome = update.Outcome ?? outcome;
        }

        Assert.NotNull(outcome);
        Assert.Equal(GenerationFinishReason.EndOfSequence, outcome.FinishReason);
        Assert.Equal(2, outcome.GeneratedTokens);
        Assert.Equal(4, outcome.PromptTokens);
        Assert.Equal(" d d", text);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task KeyedChatClient_MaxOutputTokens7_ReportsLength_AndUsageOfTheRenderedPrompt()
    {
        var (services, _) = CreateChatty();
        await using var _s = services;
        var chat = services.GetRequiredKeyedService<IChatClient>("TinyAgent");

        var response = await chat.GetResponseAsync(Messages, new ChatOptions { MaxOutputTokens = 7, Temperature = 0 });

        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.NotNull(response.Usage);
        Assert.Equal(7, response.Usage.OutputTokenCount);
        Assert.Equal(await CountTokensAsync("a b c d"), response.Usage.InputTokenCount); // what Template renders
        Assert.Equal(response.Usage.InputTokenCount + response.Usage.OutputTokenCount, response.Usage.TotalTokenCount);
        Assert.Equal(0, response.Usage.CachedInputTokenCount ?? 0);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ChatClient_StopSequenceInTheGreedyReply_ReportsStop_AndTheTextEndsBeforeIt()
    {
        var (services, manager) = CreateChatty();
        await using var _ = services;
        var chat = manager.GetModel("chatty").AsChatClient();
        var full = await chat.GetResponseAsync(Messages, new ChatOptions { MaxOutputTokens = 10, Temperature = 0 });

        var cut = await chat.GetResponseAsync(Messages, new ChatOptions { MaxOutputTokens = 10, Temperature = 0, StopSequences = [Stop] });

        Assert.Contains(Stop, full.Text, StringComparison.Ordinal);
        Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);
        Assert.Equal(full.Text[..full.Text.IndexOf(Stop, StringComparison.Ordinal)], cut.Text);
        Assert.Equal(3, cut.Usage!.OutputTokenCount);
        Assert.Equal(full.Usage!.InputTokenCount, cut.Usage.InputTokenCount);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ChatClient_Streaming_HasExactlyOneUsageContent_OnTheLastUpdate_EqualToTheNonStreamingUsage()
    {
        var (services, manager) = CreateChatty();
        await using var _ = services;
        var chat = manager.GetModel("chatty").AsChatClient();
        var options = new ChatOptions { MaxOutputTokens = 6, Temperature = 0 };
        var response = await chat.GetResponseAsync(Messages, options);

        var updates = new List<ChatResponseUpdate>();
        await foreach (var update in chat.GetStreamingResponseAsync(Messages, options))
        {
            updates.Add(update);
        }

        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        ChatAssert.StreamMatchesResponse(response, updates, outputTokens: 6);
    }

    private static (ServiceProvider Services, IModelManager Manager) CreateChatty() => OnnxManagers.Create($$"""
        { "max_memory_mb": 512,
          "models": [ {{OnnxManagers.Onnx("chatty", OnnxManagers.TinyGpt2, extra: "\"chat_template\": " + JsonSerializer.Serialize(Template))}} ],
          "agents": { "TinyAgent": { "model": "chatty" } } }
        """);

    private static async Task<GenerationOutcome> OutcomeAsync(IAsyncEnumerable<GenerationUpdate> updates)
    {
        GenerationOutcome? outcome = null;
        var finals = 0;
        await foreach (var update in updates)
        {
            if (update.Outcome is { } o)
            {
                outcome = o;
                finals++;
            }
        }

        Assert.Equal(1, finals);
        return outcome!;
    }

    /// <summary>The tiny model's own tokenizer (ONNX Runtime GenAI's, from its folder) on <paramref name="text"/>.</summary>
    private static async Task<int> CountTokensAsync(string text)
    {
        await using var direct = await OnnxManagers.LoadDirectAsync("tokenizer", OnnxManagers.TinyGpt2);
        var tokenizer = Assert.IsAssignableFrom<Tokenizer>(direct.Model.GetService(typeof(Tokenizer)));
        using var sequences = tokenizer.Encode(text);
        return sequences[0].Length;
    }
}
