using Microsoft.Extensions.AI;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager.IntegrationTests;

public sealed class OnnxGenAIBackendTests
{
    private static readonly GenerationOptions Greedy = new() { DoSample = false, MaxTokens = 10 };

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task GenerateTokens_Greedy_ContinuesAsTheModelReadmeStates()
    {
        await using var direct = await OnnxManagers.LoadDirectAsync("tiny", OnnxManagers.TinyGpt2);

        var prompt = direct.Model.Encode(OnnxManagers.Prompt);
        var ids = await OnnxManagers.TokensAsync(direct.Model, prompt, Greedy);

        Assert.Equal(OnnxManagers.PromptIds, prompt);
        Assert.Equal(OnnxManagers.GreedyIds, ids);
        Assert.Equal(OnnxChatFormat.Plain, direct.Model.ChatFormat); // gpt2's tokenizer has no chat template
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task GenerateAsync_Streaming_AndEightConcurrentCallers_GiveTheSameGreedyText()
    {
        var (services, manager) = OnnxManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("tiny", OnnxManagers.TinyGpt2, extra: "\"parallel\": 8")}} ] }""");
        await using var _ = services;
        var model = manager.GetModel("tiny");

        var expected = await model.GenerateAsync(OnnxManagers.Prompt);
        var pieces = new List<string>();
        await foreach (var piece in model.GenerateStreamingAsync(OnnxManagers.Prompt))
        {
            pieces.Add(piece);
        }

        var concurrent = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(() => model.GenerateAsync(OnnxManagers.Prompt))));

        Assert.StartsWith(" d d\u0010\u0010", expected, StringComparison.Ordinal); // ids 288, 288, 204, 204 decode to " d", " d", U+0010, U+0010
        Assert.Equal(expected, string.Concat(pieces));
        Assert.True(pieces.Count >= 4, "streaming yields piece by piece");
        Assert.All(concurrent, text => Assert.Equal(expected, text));
        Assert.Equal(expected, await model.GenerateAsync(OnnxManagers.Prompt));
        Assert.Equal(1, manager.GetModelStats()["tiny"].LoadCount);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task EightConcurrentGenerators_MatchSequentialRunsTokenForToken()
    {
        await using var direct = await OnnxManagers.LoadDirectAsync("tiny", OnnxManagers.TinyGpt2, settings: new Dictionary<string, string?> { ["parallel"] = "8" });
        var prompts = Enumerable.Range(0, 8).Select(i => new[] { 64 + i, 275, 269 }).ToArray();
        var options = new GenerationOptions { DoSample = false, MaxTokens = 40 };
        var sequential = new List<int[]>();
        foreach (var p in prompts)
        {
            sequential.Add(await OnnxManagers.TokensAsync(direct.Model, p, options));
        }

        var concurrent = await Task.WhenAll(prompts.Select(p => Task.Run(() => OnnxManagers.TokensAsync(direct.Model, p, options))));

        Assert.Equal(sequential, concurrent);
        Assert.All(sequential, ids => Assert.Equal(40, ids.Length));
        Assert.True(sequential.Select(ids => string.Join(",", ids)).Distinct().Count() > 1, "different prompts give different continuations");
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task OutOfVocabularyPrompt_IsRejectedInManagedCode_AndTheModelKeepsWorking()
    {
        await using var tiny = OnnxManagers.CreateTiny();
        var before = await tiny.Model.GenerateAsync(OnnxManagers.Prompt);

        var e = await Assert.ThrowsAsync<ArgumentException>(() => tiny.Model.GenerateAsync("Hello world"));

        Assert.Contains("model 'tiny' holds token id 15496 (at position 0), outside the model's vocabulary of 1000 ids", e.Message, StringComparison.Ordinal);
        Assert.Equal(before, await tiny.Model.GenerateAsync(OnnxManagers.Prompt));
        Assert.Equal(0, tiny.Manager.GetModelStats()["tiny"].ActiveLeases);
        Assert.Equal(1, tiny.Manager.GetModelStats()["tiny"].LoadCount);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ContextLength_CapsMaxTokens_AndRejectsPromptsThatLeaveNoRoom()
    {
        await using var direct = await OnnxManagers.LoadDirectAsync("tiny", OnnxManagers.TinyGpt2, contextLength: 16);
        var model = direct.Model;

        var capped = await OnnxManagers.TokensAsync(model, OnnxManagers.PromptIds, new GenerationOptions { DoSample = false, MaxTokens = 100 });
        var longPrompt = Enumerable.Repeat(OnnxManagers.PromptIds, 4).SelectMany(x => x).ToArray();
        var e = await Assert.ThrowsAsync<ContextLengthExceededException>(() => OnnxManagers.TokensAsync(model, longPrompt, Greedy));

        Assert.Equal(12, capped.Length); // max_length = min(4 + 100, 16)
        Assert.Equal(OnnxManagers.GreedyIds, capped[..10]);
        Assert.Contains("The prompt has 16 tokens but model 'tiny' has a context of 16 tokens per request", e.Message, StringComparison.Ordinal);
        Assert.Equal(15, (await OnnxManagers.TokensAsync(model, [64], new GenerationOptions { DoSample = false, MaxTokens = 100 })).Length);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ContextLengthAboveTheModelsOwn_IsAConfigurationErrorNamingBothNumbers()
    {
        var e = Assert.Throws<ModelConfigurationException>(() => OnnxManagers.Create(
            $$"""{ "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("big", OnnxManagers.TinyGpt2, extra: "\"context_length\": 1024")}} ] }"""));
        Assert.Contains("models[0].context_length: 1024 is more than model 'big' supports: its genai_config.json has context_length 512", e.Message, StringComparison.Ordinal);

        // The same check guards the load, for folders that change after start-up.
        var backend = new OnnxGenAIBackend();
        var load = await Assert.ThrowsAsync<ModelLoadException>(() => backend.LoadAsync(OnnxManagers.Descriptor("big", OnnxManagers.TinyGpt2, contextLength: 1024), null, CancellationToken.None));
        Assert.Contains("1024 is more than model 'big' supports", load.Message, StringComparison.Ordinal);
        Assert.Contains("context_length 512", load.Message, StringComparison.Ordinal);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task Cancellation_BetweenTokens_ThrowsWithTheCallersToken_AndFreesTheSlot()
    {
        await using var direct = await OnnxManagers.LoadDirectAsync("tiny", OnnxManagers.TinyGpt2);
        var model = direct.Model;
        using var cts = new CancellationTokenSource();
        var seen = 0;

        var e = await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var _ in model.GenerateTokensAsync(OnnxManagers.PromptIds, new GenerationOptions { DoSample = false, MaxTokens = 400 }, cts.Token))
            {
                if (++seen == 3)
                {
                    await cts.CancelAsync();
                }
            }
        });

        Assert.Equal(cts.Token, e.CancellationToken);
        Assert.Equal(3, seen);
        Assert.Equal(0, model.ActiveGenerations);
        Assert.Equal(OnnxManagers.GreedyIds, await OnnxManagers.TokensAsync(model, OnnxManagers.PromptIds, Greedy));
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ForceUnload_WhileFourStreamsRun_EndsThemWithModelUnloadedException_AndTheModelReloads()
    {
        await using var tiny = OnnxManagers.CreateTiny();
        var expected = await tiny.Model.GenerateAsync(OnnxManagers.Prompt);

        var results = await ForceUnloadProbe.RunAsync(tiny.Manager, "tiny", Enumerable.Repeat(OnnxManagers.Prompt, 4).ToArray(), maxTokens: 400, TimeSpan.FromSeconds(10));

        Assert.All(results, r => Assert.Equal("tiny", Assert.IsType<ModelUnloadedException>(r.Error).ModelName));
        Assert.Equal(ModelState.Unloaded, tiny.Manager.GetModelStats()["tiny"].State);
        Assert.Equal(expected, await tiny.Model.GenerateAsync(OnnxManagers.Prompt));
        Assert.Equal(2, tiny.Manager.GetModelStats()["tiny"].LoadCount);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task Parallel_LimitsConcurrentGenerators_OthersWaitForASlot()
    {
        await using var direct = await OnnxManagers.LoadDirectAsync("tiny", OnnxManagers.TinyGpt2, settings: new Dictionary<string, string?> { ["parallel"] = "2" });
        var model = direct.Model;
        var options = new GenerationOptions { DoSample = false, MaxTokens = 300 };

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(() => OnnxManagers.TokensAsync(model, OnnxManagers.PromptIds, options))));

        Assert.Equal(2, model.PeakGenerations);
        Assert.All(results, ids => Assert.Equal(OnnxManagers.GreedyIds, ids[..10]));
        Assert.All(results, ids => Assert.Equal(300, ids.Length));
        Assert.Equal(0, model.ActiveGenerations);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task StopSequences_And_MaxTokens_AreHonoured()
    {
        await using var tiny = OnnxManagers.CreateTiny();

        var cut = await tiny.Model.GenerateAsync(OnnxManagers.Prompt, new GenerationOptions { StopSequences = ["\u0010"] });
        var pieces = new List<string>();
        await foreach (var p in tiny.Model.GenerateStreamingAsync(OnnxManagers.Prompt, new GenerationOptions { MaxTokens = 2 }))
        {
            pieces.Add(p);
        }

        Assert.Equal(" d d", cut);
        Assert.Equal([" d", " d"], pieces);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task EosTokenFromGenaiConfig_EndsGeneration()
    {
        var folder = OnnxManagers.CopyTiny();
        OnnxManagers.EditConfig(folder, m => m["eos_token_id"] = 204);
        await using var direct = await OnnxManagers.LoadDirectAsync("eos", folder);

        var ids = await OnnxManagers.TokensAsync(direct.Model, OnnxManagers.PromptIds, new GenerationOptions { DoSample = false, MaxTokens = 50 });

        Assert.Equal([288, 288], ids);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task Sampling_WithASeed_IsReproducible_AndDiffersFromGreedy()
    {
        await using var direct = await OnnxManagers.LoadDirectAsync("tiny", OnnxManagers.TinyGpt2);
        var sampled = new GenerationOptions { DoSample = true, Temperature = 1, TopK = 50, Seed = 1, MaxTokens = 20 };

        var a = await OnnxManagers.TokensAsync(direct.Model, OnnxManagers.PromptIds, sampled);
        var b = await OnnxManagers.TokensAsync(direct.Model, OnnxManagers.PromptIds, sampled);
        var other = await OnnxManagers.TokensAsync(direct.Model, OnnxManagers.PromptIds, new GenerationOptions { DoSample = true, Temperature = 1, TopK = 50, Seed = 2, MaxTokens = 20 });

        Assert.Equal(a, b);
        Assert.NotEqual(a, other);
        Assert.NotEqual(OnnxManagers.GreedyIds, a[..10]);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ChatClient_WithoutAnyTemplate_UsesThePlainFormat_WhichThisVocabularyCannotEmbed()
    {
        await using var tiny = OnnxManagers.CreateTiny();
        await using var direct = await OnnxManagers.LoadDirectAsync("tiny", OnnxManagers.TinyGpt2);
        ChatMessage[] messages = [new(ChatRole.System, "a b"), new(ChatRole.User, "c d")];

        var e = await Assert.ThrowsAsync<ArgumentException>(() => tiny.Model.AsChatClient().GetResponseAsync(messages));

        Assert.Equal("System: a b\nUser: c d\nAssistant:", direct.Model.FormatChat(messages));
        Assert.Contains("outside the model's vocabulary of 1000 ids", e.Message, StringComparison.Ordinal); // "System" encodes above 999
        Assert.Equal(" d d", await tiny.Model.GenerateAsync(OnnxManagers.Prompt, new GenerationOptions { StopSequences = ["\u0010"] }));
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ChatClient_WithAConfiguredTemplate_AppliesIt()
    {
        const string template = "{% for m in messages %}{{ m.content }}{% if not loop.last %} {% endif %}{% endfor %}";
        var (services, manager) = OnnxManagers.Create($$"""
            { "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("chatty", OnnxManagers.TinyGpt2, extra: "\"chat_template\": " + System.Text.Json.JsonSerializer.Serialize(template))}} ] }
            """);
        await using var _ = services;
        var model = manager.GetModel("chatty");

        var reply = await model.AsChatClient().GetResponseAsync([new ChatMessage(ChatRole.System, "a b"), new ChatMessage(ChatRole.User, "c d")]);

        Assert.Equal(await model.GenerateAsync(OnnxManagers.Prompt), reply.Text);
        Assert.StartsWith(" d d", reply.Text, StringComparison.Ordinal);
        Assert.Equal("chatty", reply.ModelId);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task BrokenConfiguredTemplate_FailsTheLoadWithOrtsMessage()
    {
        var (services, manager) = OnnxManagers.Create($$"""
            { "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("broken", OnnxManagers.TinyGpt2, extra: "\"chat_template\": \"{% for m in messages %}\"")}}, {{OnnxManagers.Onnx("tiny", OnnxManagers.TinyGpt2)}} ] }
            """);
        await using var _ = services;

        var e = await Assert.ThrowsAsync<ModelLoadException>(() => manager.LoadModelAsync("broken"));

        Assert.Contains("models[0].chat_template of model 'broken' cannot be applied", e.Message, StringComparison.Ordinal);
        Assert.Contains("Unterminated for", e.Message, StringComparison.Ordinal);
        Assert.Equal(ModelState.Unloaded, manager.GetModelStats()["broken"].State);
        Assert.StartsWith(" d d", await manager.GetModel("tiny").GenerateAsync(OnnxManagers.Prompt), StringComparison.Ordinal);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ProviderThatCannotLoad_GivesModelLoadExceptionWithOrtsMessage_AndAliasOnnxWorks()
    {
        var (services, manager) = OnnxManagers.Create($$"""
            { "max_memory_mb": 512, "models": [ {{OnnxManagers.Onnx("gpu", OnnxManagers.TinyGpt2, extra: "\"providers\": [\"cuda\"]")}}, {{OnnxManagers.Onnx("cpu", OnnxManagers.TinyGpt2, type: "onnx")}} ] }
            """);
        await using var _ = services;

        var e = await Assert.ThrowsAsync<ModelLoadException>(() => manager.LoadModelAsync("gpu"));

        Assert.IsNotType<ModelFormatException>(e);
        Assert.Equal("gpu", e.ModelName);
        Assert.Contains("ONNX Runtime GenAI could not load model 'gpu'", e.Message, StringComparison.Ordinal);
        Assert.Contains("cuda", e.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Cuda interface not available", e.Message, StringComparison.Ordinal);
        Assert.Equal("huggingface", manager.GetModels().Single(m => m.Name == "cpu").Type);
        Assert.StartsWith(" d d", await manager.GetModel("cpu").GenerateAsync(OnnxManagers.Prompt), StringComparison.Ordinal);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task GetService_ReturnsTheNativeModelAndTokenizer_AndNullForAnUnrelatedType()
    {
        await using var direct = await OnnxManagers.LoadDirectAsync("tiny", OnnxManagers.TinyGpt2);
        IModelInstance instance = direct.Model;

        var model = Assert.IsAssignableFrom<Model>(instance.GetService(typeof(Model)));
        var tokenizer = Assert.IsAssignableFrom<Tokenizer>(instance.GetService(typeof(Tokenizer)));

        using var sequences = tokenizer.Encode(OnnxManagers.Prompt);
        Assert.Equal(OnnxManagers.PromptIds, sequences[0].ToArray());
        using var parameters = new GeneratorParams(model);
        Assert.Same(model, instance.GetService(typeof(Model)));
        Assert.Same(instance, instance.GetService(typeof(IModelInstance)));
        Assert.Null(instance.GetService(typeof(string)));
        Assert.Null(instance.GetService(typeof(Tokenizer), serviceKey: "other"));
    }
}
