using LLama;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ModelManager.IntegrationTests;

public sealed class LlamaSharpBackendTests
{
    private const string Prompt = "Once upon a time";

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task GenerateAsync_Greedy_ReproducesTheReferenceText()
    {
        await using var stories = GgufManagers.CreateStories();

        var text = await stories.Model.GenerateAsync(Prompt);

        Assert.StartsWith(Prompt + text.TrimEnd(), GgufManagers.StoriesReference + "\nLily's mom said", StringComparison.Ordinal);
        Assert.True(text.Length > 60, $"only {text.Length} characters: «{text}»");
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Streaming_And_DiHandle_GiveTheSameTextAsGenerateAsync()
    {
        var (services, manager) = GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Stories()}} ], "agents": { "StoryAgent": { "model": "stories" } } }""");
        await using var _ = services;
        var expected = await manager.GetModel("stories").GenerateAsync(Prompt);

        var pieces = new List<string>();
        await foreach (var piece in manager.GetModel("stories").GenerateStreamingAsync(Prompt))
        {
            pieces.Add(piece);
        }

        var keyed = services.GetRequiredKeyedService<ILanguageModel>("StoryAgent");
        Assert.Equal(expected, string.Concat(pieces));
        Assert.True(pieces.Count > 10, "streaming yields piece by piece");
        Assert.Equal(expected, await keyed.GenerateAsync(Prompt));
        Assert.Equal(1, manager.GetModelStats()["stories"].LoadCount);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task EightConcurrentCallers_GetTheSameGreedyOutputAsSequentialRuns()
    {
        await using var stories = GgufManagers.CreateStories();
        string[] prompts = ["Once upon a time", "The little dog", "One day, Lily", "Tom and Sue", "The sun was", "There was a big", "Mom said", "A bird"];
        var sequential = new List<string>();
        foreach (var p in prompts)
        {
            sequential.Add(await stories.Model.GenerateAsync(p));
        }

        var concurrent = await Task.WhenAll(prompts.Select(p => Task.Run(() => stories.Model.GenerateAsync(p))));

        Assert.Equal(sequential, concurrent);
        Assert.Equal(8, sequential.Distinct().Count());
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task ForceUnload_WhileFourStreamsRun_EndsThemWithModelUnloadedException()
    {
        var (services, manager) = GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Stories(extra: "\"parameters\": { \"do_sample\": false, \"max_tokens\": 200 }")}} ] }""".Replace("\"parameters\": { \"do_sample\": false, \"max_tokens\": 48 } ,", "", StringComparison.Ordinal));
        await using var _ = services;
        var model = manager.GetModel("stories");

        var results = await ForceUnloadProbe.RunAsync(manager, "stories", ["Once", "The dog", "Lily", "A cat"], maxTokens: 200, TimeSpan.FromSeconds(30));

        Assert.All(results, r => Assert.Equal("stories", Assert.IsType<ModelUnloadedException>(r.Error).ModelName));
        Assert.All(results, r => Assert.Equal(2, r.Pieces));
        Assert.Equal(ModelState.Unloaded, manager.GetModelStats()["stories"].State);
        // The manager and the model still work: the next call reloads it.
        Assert.StartsWith(GgufManagers.StoriesReference[Prompt.Length..][..20], await model.GenerateAsync(Prompt), StringComparison.Ordinal);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task EvictionBetweenCalls_IsTransparentToHandles()
    {
        var small = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 4_000_000, Seed = 11 });
        // A budget that holds either model but not both.
        var a = GgufMemoryEstimator.Estimate(GgufReader.Read(SharedModels.Stories260K), 256, 8);
        var b = GgufMemoryEstimator.Estimate(GgufReader.Read(small), 128, 4);
        var limitMb = (Math.Max(a, b) / 1048576) + 1;
        Assert.True(limitMb * 1048576 < a + b);
        var (services, manager) = GgufManagers.Create($$"""
            { "max_memory_mb": {{limitMb}}, "load_wait_timeout": 5, "models": [ {{GgufManagers.Stories(priority: 4)}}, {{GgufManagers.Gguf("synthetic", small, priority: 4)}} ] }
            """);
        await using var _ = services;
        var stories = manager.GetModel("stories");
        var synthetic = manager.GetModel("synthetic");
        var first = await stories.GenerateAsync(Prompt);
        var evicted = 0;
        manager.RegisterCallback(ModelEventKind.Evicted, _ => Interlocked.Increment(ref evicted));

        for (var i = 0; i < 3; i++)
        {
            await synthetic.GenerateAsync("abc");
            Assert.Equal(first, await stories.GenerateAsync(Prompt));
        }

        Assert.True(evicted >= 4, $"expected the two models to evict each other, saw {evicted} evictions");
        Assert.True(manager.GetModelStats()["stories"].LoadCount >= 3);
        Assert.True(manager.GetMemoryUsage().TotalBytes <= manager.GetMemoryUsage().LimitBytes);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Stats_ShowEstimateAndActualSideBySide()
    {
        await using var stories = GgufManagers.CreateStories();
        await stories.Manager.LoadModelAsync("stories");
        var stats = stories.Manager.GetModelStats()["stories"];
        var info = GgufReader.Read(SharedModels.Stories260K);
        Assert.Equal(GgufMemoryEstimator.Estimate(info, 256, 8), stats.EstimatedBytes);
        Assert.InRange(stats.ActualBytes, info.TensorBytes, stats.EstimatedBytes * 2);
        Assert.Equal(Math.Max(stats.EstimatedBytes, stats.ActualBytes) / 1048576.0, stats.MemoryUsageMb, 6);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task PromptLongerThanTheContext_IsRejectedInManagedCode_AndTheModelKeepsWorking()
    {
        await using var stories = GgufManagers.CreateStories();
        var e = await Assert.ThrowsAsync<ContextLengthExceededException>(() => stories.Model.GenerateAsync(string.Join(' ', Enumerable.Repeat("Once upon a time", 80))));
        Assert.Contains("model 'stories' has a context of 256 tokens", e.Message, StringComparison.Ordinal);
        Assert.StartsWith(GgufManagers.StoriesReference[Prompt.Length..][..20], await stories.Model.GenerateAsync(Prompt), StringComparison.Ordinal);
        Assert.Equal(0, stories.Manager.GetModelStats()["stories"].ActiveLeases);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task StopSequences_And_MaxTokens_AreHonoured()
    {
        await using var stories = GgufManagers.CreateStories();
        var cut = await stories.Model.GenerateAsync(Prompt, new GenerationOptions { StopSequences = [" Lily"] });
        Assert.Equal(", there was a little girl named", cut);
        var four = new List<string>();
        await foreach (var p in stories.Model.GenerateStreamingAsync(Prompt, new GenerationOptions { MaxTokens = 4 }))
        {
            four.Add(p);
        }

        Assert.Equal(4, four.Count);
    }

    [Fact]
    public async Task ChatClient_AppliesTheGgufChatTemplate()
    {
        const string template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
        var path = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 1_000_000, Seed = 5, ChatTemplate = template });
        var (services, manager) = GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Gguf("chatty", path)}} ] }""");
        await using var _ = services;
        var model = manager.GetModel("chatty");

        var reply = await model.AsChatClient().GetResponseAsync([new ChatMessage(ChatRole.System, "Be terse."), new ChatMessage(ChatRole.User, "Hi")]);
        var raw = await model.GenerateAsync("<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");

        Assert.Equal(raw, reply.Text);
        Assert.NotEqual(raw, await model.GenerateAsync("System: Be terse.\nUser: Hi\nAssistant:"));
        Assert.Equal("chatty", reply.ModelId);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task ChatClient_WithoutTemplate_UsesThePlainFormat()
    {
        await using var stories = GgufManagers.CreateStories();
        var reply = await stories.Model.AsChatClient().GetResponseAsync([new ChatMessage(ChatRole.User, "Tell me a story")], new ChatOptions { MaxOutputTokens = 20 });
        var raw = await stories.Model.GenerateAsync("User: Tell me a story\nAssistant:", new GenerationOptions { MaxTokens = 20, StopSequences = ["\nUser:", "\nSystem:"] });
        Assert.Equal(raw, reply.Text);
        Assert.False(string.IsNullOrWhiteSpace(raw));
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task GetService_ReturnsTheModelsLLamaWeights_AndNullForAnUnrelatedType()
    {
        var backend = new LlamaSharpBackend();
        await using var instance = await backend.LoadAsync(GgufManagers.Descriptor("stories", SharedModels.Stories260K), null, CancellationToken.None);

        var weights = Assert.IsType<LLamaWeights>(instance.GetService(typeof(LLamaWeights)));

        Assert.Equal(GgufReader.Read(SharedModels.Stories260K).VocabSize, weights.Vocab.Count);
        Assert.Same(weights, instance.GetService(typeof(LLamaWeights)));
        Assert.Same(instance, instance.GetService(typeof(IModelInstance)));
        Assert.Null(instance.GetService(typeof(string)));
        Assert.Null(instance.GetService(typeof(LLamaWeights), serviceKey: "other"));
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public void AMissingNativeBackend_IsAConfigurationError_NamingThePackagesToAdd()
    {
        var missing = LlamaSharpBackend.DescribeNativeProblem(() => throw new TypeInitializationException("LLama.Native.NativeApi", new DllNotFoundException("Unable to load shared library 'llama'")));

        Assert.NotNull(missing);
        Assert.Contains("(DllNotFoundException: Unable to load shared library 'llama')", missing, StringComparison.Ordinal);
        Assert.Contains("LLamaSharp.Backend.Cpu", missing, StringComparison.Ordinal);
        Assert.Contains("LLamaSharp.Backend.Cuda12", missing, StringComparison.Ordinal);
        Assert.Null(LlamaSharpBackend.DescribeNativeProblem(() => 1));

        // This process has LLamaSharp.Backend.Cpu: validation passes, and loads the library before any model needs it.
        Assert.Null(LlamaSharpBackend.NativeLibraryProblem.Value);
        var context = new ModelValidationContext();
        new LlamaSharpBackend().Validate(GgufManagers.Descriptor("stories", SharedModels.Stories260K), context);
        Assert.DoesNotContain(context.Errors, e => e.Contains("native library", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(LLama.Native.LLamaLogLevel.Error, LogLevel.Debug, LogLevel.Error)]
    [InlineData(LLama.Native.LLamaLogLevel.Warning, LogLevel.Debug, LogLevel.Warning)]
    [InlineData(LLama.Native.LLamaLogLevel.Warning, LogLevel.Trace, LogLevel.Warning)]
    [InlineData(LLama.Native.LLamaLogLevel.Info, LogLevel.Debug, LogLevel.Debug)]
    [InlineData(LLama.Native.LLamaLogLevel.Info, LogLevel.Information, LogLevel.Information)]
    [InlineData(LLama.Native.LLamaLogLevel.Info, LogLevel.Warning, LogLevel.Information)]
    [InlineData(LLama.Native.LLamaLogLevel.Debug, LogLevel.Information, LogLevel.Debug)]
    [InlineData(LLama.Native.LLamaLogLevel.Debug, LogLevel.Trace, LogLevel.Trace)]
    public void NativeLogLines_KeepLlamaCppsLevel_InformationalOnesNoHigherThanNativeLogLevel(LLama.Native.LLamaLogLevel native, LogLevel configured, LogLevel expected)
    {
        Assert.Equal(expected, LlamaSharpNativeLog.LevelOf(native, configured));
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public void AContextLongerThanTheModelWasTrainedOn_IsAWarning_NamingBoth()
    {
        var trained = GgufReader.Read(SharedModels.Stories260K).ContextLength;
        Assert.True(trained > 0);
        var backend = new LlamaSharpBackend();
        var within = new ModelValidationContext();
        var beyond = new ModelValidationContext();

        backend.Validate(GgufManagers.Descriptor("fits", SharedModels.Stories260K, contextLength: (int)trained), within);
        backend.Validate(GgufManagers.Descriptor("long", SharedModels.Stories260K, contextLength: 16384), beyond);

        Assert.DoesNotContain(within.Warnings, w => w.Contains("context_length", StringComparison.Ordinal));
        Assert.Contains($"models[0].context_length: 16384 tokens per request is more than the {trained} model 'long' was trained on (its GGUF context_length); positions past that degrade its output", beyond.Warnings);
        Assert.Empty(beyond.Errors);
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public void AContextNoLlamaCppContextCanHold_IsAConfigurationError_NamingContextLength()
    {
        var model = GgufManagers.Stories().Replace("\"context_length\": 256", "\"context_length\": 1000000000", StringComparison.Ordinal);

        var error = Assert.Throws<ModelConfigurationException>(() => GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{model}} ] }"""));

        Assert.Contains(error.Errors, e => e.StartsWith("models[0].context_length: 1000000000 tokens × parallel 8", StringComparison.Ordinal) && e.Contains("model 'stories'", StringComparison.Ordinal));
    }
}
