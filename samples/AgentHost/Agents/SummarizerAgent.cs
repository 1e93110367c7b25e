using System.Diagnostics;
using System.Text;

namespace AgentHost;

/// <summary>Summarizes text, streaming the summary as it is generated.</summary>
public sealed class SummarizerAgent([FromKeyedServices(nameof(SummarizerAgent))] IChatClient chat)
    : Agent(nameof(SummarizerAgent), "summarizes text (streaming)", chat)
{
    private readonly IChatClient _chat = chat;

    public override async Task<AgentResult> RunAsync(string task, int maxTokens, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var text = new StringBuilder();
        string? model = null;
        UsageDetails? usage = null;
        var truncated = false;
        await foreach (var update in _chat.GetStreamingResponseAsync(
                           [new ChatMessage(ChatRole.User, task)],
                           new ChatOptions { MaxOutputTokens = maxTokens, Temperature = 0 },
                           cancellationToken))
        {
            text.Append(update.Text);
            model ??= update.ModelId;
            usage = update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details ?? usage;
            truncated |= update.FinishReason == ChatFinishReason.Length;
        }

        return new AgentResult(Name, model ?? ConfiguredModel ?? "?", text.ToString(), watch.Elapsed, usage?.InputTokenCount, usage?.OutputTokenCount, truncated);
    }
}
