using Microsoft.Extensions.AI;

namespace ModelManager.IntegrationTests;

/// <summary>Assertions about a chat client's stream, shared by the backends' tests.</summary>
internal static class ChatAssert
{
    /// <summary>
    /// The stream carries exactly one <see cref="UsageContent"/>, on its last update, equal to the whole response's usage,
    /// with <paramref name="outputTokens"/> generated; its finish reason and text are the whole response's.
    /// </summary>
    public static void StreamMatchesResponse(ChatResponse response, IReadOnlyList<ChatResponseUpdate> updates, int outputTokens)
    {
        var usage = Assert.Single(updates.SelectMany(u => u.Contents.OfType<UsageContent>()));
        Assert.Same(usage, Assert.Single(updates[^1].Contents.OfType<UsageContent>()));
        Assert.Equal(response.Usage!.InputTokenCount, usage.Details.InputTokenCount);
        Assert.Equal(response.Usage.OutputTokenCount, usage.Details.OutputTokenCount);
        Assert.Equal(response.Usage.TotalTokenCount, usage.Details.TotalTokenCount);
        Assert.Equal(outputTokens, usage.Details.OutputTokenCount);
        Assert.Equal(response.FinishReason, updates[^1].FinishReason);
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
    }
}
