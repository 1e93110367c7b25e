namespace ModelManager.IntegrationTests;

public sealed class OnnxGenerationThreadsTests
{
    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task Generations_RunOnLongLivedThreads_AtMostParallel_EndedWhenTheModelIsReleased()
    {
        var settings = new Dictionary<string, string?> { ["parallel"] = "2" };
        var direct = await OnnxManagers.LoadDirectAsync("tiny", OnnxManagers.TinyGpt2, settings: settings);
        var model = direct.Model;
        var options = new GenerationOptions { DoSample = false, MaxTokens = 20 };
        Assert.Equal(0, model.GenerationThreadCount); // started on first use

        var first = await OnnxManagers.TokensAsync(model, OnnxManagers.PromptIds, options);
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(first, await OnnxManagers.TokensAsync(model, OnnxManagers.PromptIds, options));
        }

        Assert.Equal(1, model.GenerationThreadCount); // one after another: the same thread each time

        var together = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => OnnxManagers.TokensAsync(model, OnnxManagers.PromptIds, options))));
        Assert.All(together, ids => Assert.Equal(first, ids));
        Assert.InRange(model.GenerationThreadCount, 1, 2);

        await direct.DisposeAsync();
        Assert.True(model.IsReleased);
        for (var waited = 0; model.GenerationThreadCount > 0 && waited < 10_000; waited += 10)
        {
            await Task.Delay(10); // a hang bound only: the threads end as soon as they see the model released
        }

        Assert.Equal(0, model.GenerationThreadCount);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task StreamedTokens_JoinToTheSameTextAsTheNonStreamedCall()
    {
        await using var direct = await OnnxManagers.LoadDirectAsync("tiny", OnnxManagers.TinyGpt2);
        var options = new GenerationOptions { DoSample = false, MaxTokens = 300 };
        var pieces = new List<string>();
        await foreach (var token in direct.Model.GenerateTokensAsync(OnnxManagers.PromptIds, options))
        {
            pieces.Add(token.Text);
        }

        var text = new System.Text.StringBuilder();
        await foreach (var update in direct.Model.GenerateAsync(OnnxManagers.Prompt, options, CancellationToken.None))
        {
            text.Append(update.Text);
        }

        Assert.Equal(300, pieces.Count);
        Assert.Equal(string.Concat(pieces), text.ToString());
    }
}
