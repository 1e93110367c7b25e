using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using ModelManager.IntegrationTests.OpenAI;
using Xunit.Abstractions;

namespace ModelManager.IntegrationTests;

/// <summary>The gguf prompt cache on stories260K: the same greedy output with and without it, across turns, agents, and eviction with a spill.</summary>
public sealed class PromptCacheTests(ITestOutputHelper output)
{
    private const string Marker = "stories260K/stories260K.gguf";

    private static readonly string[] Words =
    [
        "Lily", "Tom", "the dog", "a big red ball", "the park", "her mom", "a cat", "the sun", "a little bird", "the tree",
        "played", "ran", "saw", "wanted", "was happy", "was sad", "jumped", "found", "said hello to", "went home with",
    ];

    [SharedModelFact(Marker)]
    public async Task FiftyRandomConversations_EveryTurn_IsTheSameWithTheCacheAsWithout_AcrossEvictionAndRestore()
    {
        var spill = TestCache.NewScratchDirectory();
        await using var cached = Manager(PromptCache(8, spill));
        await using var plain = Manager("\"prompt_cache\": 0");
        var random = new Random(1234);
        var conversations = Enumerable.Range(0, 50).Select(_ => new List<ChatMessage> { new(ChatRole.System, Sentence(random, 6)) }).ToList();
        long reused = 0;
        var restoredTurns = 0;

        // Five conversations at a time, turn by turn and interleaved, so the cache holds several and must pick the right one.
        foreach (var group in conversations.Chunk(5))
        {
            for (var turn = 0; turn < 4; turn++)
            {
                if (turn == 2 && group[0] == conversations[10])
                {
                    // Evict in the middle of these conversations: the next turns must find their sequences restored from the spill.
                    Assert.True(await cached.Manager.UnloadModelAsync("stories"));
                }

                foreach (var history in group)
                {
                    history.Add(new ChatMessage(ChatRole.User, Sentence(random, 4 + random.Next(6))));
                    var options = new ChatOptions { MaxOutputTokens = 12 + random.Next(12) };
                    var withCache = await cached.Chat.GetResponseAsync(history, options);
                    var without = await plain.Chat.GetResponseAsync(history, options);

                    Assert.Equal(without.Text, withCache.Text);
                    Assert.Equal(without.Usage!.InputTokenCount, withCache.Usage!.InputTokenCount);
                    Assert.Equal(0, without.Usage.CachedInputTokenCount);
                    if (turn > 0)
                    {
                        // Every later turn starts with the previous turn's prompt: at least that much is reused.
                        Assert.True(withCache.Usage.CachedInputTokenCount > 0, $"turn {turn} reused nothing");
                    }

                    reused += withCache.Usage.CachedInputTokenCount ?? 0;
                    history.Add(new ChatMessage(ChatRole.Assistant, withCache.Text));
                }

                if (turn == 2 && group[0] == conversations[10])
                {
                    restoredTurns = group.Length;
                }
            }
        }

        var stats = cached.Manager.GetModelStats()["stories"].PromptCache!;
        output.WriteLine($"reused {reused} tokens; {stats}");
        Assert.True(reused > 0);
        Assert.True(stats.Restored >= restoredTurns, $"restored {stats.Restored}, expected the {restoredTurns} spilled conversations");
        Assert.True(stats.Hits > 0 && stats.ReusedTokens > 0);
        Assert.InRange(stats.Sequences, 1, 8);
        Assert.Null(plain.Manager.GetModelStats()["stories"].PromptCache);
    }

    [SharedModelFact(Marker)]
    public async Task TwoAgents_WithTheSameSystemPrompt_TheSecondAgentsFirstTurnReusesIt()
    {
        await using var cached = Manager(PromptCache(8, null));
        var system = new ChatMessage(ChatRole.System, string.Join(" ", Enumerable.Repeat("Lily and Tom played in the park with a big red ball.", 8)));
        var first = await cached.Chat.GetResponseAsync([system, new ChatMessage(ChatRole.User, "Tell me about the dog.")], new ChatOptions { MaxOutputTokens = 8 });
        var second = await cached.Chat.GetResponseAsync([system, new ChatMessage(ChatRole.User, "What did the cat find?")], new ChatOptions { MaxOutputTokens = 8 });

        var systemTokens = await PromptTokens(cached, [system]);
        Assert.Equal(0, first.Usage!.CachedInputTokenCount);
        Assert.InRange(second.Usage!.CachedInputTokenCount!.Value, systemTokens - 4, second.Usage.InputTokenCount!.Value - 1);

        // The first agent's conversation is still cached for its next turn.
        var again = await cached.Chat.GetResponseAsync([system, new ChatMessage(ChatRole.User, "Tell me about the dog."), new ChatMessage(ChatRole.Assistant, first.Text), new ChatMessage(ChatRole.User, "And then?")],
            new ChatOptions { MaxOutputTokens = 8 });
        Assert.True(again.Usage!.CachedInputTokenCount >= first.Usage.InputTokenCount - 3, $"{again.Usage.CachedInputTokenCount} of {again.Usage.InputTokenCount}");
    }

    [SharedModelFact(Marker)]
    public async Task AModelThatAlsoEmbeds_StillSpillsItsPromptCache()
    {
        var spill = TestCache.NewScratchDirectory();
        await using var m = Manager(PromptCache(8, spill) + ", \"capabilities\": [\"chat\", \"embeddings\"]");
        await m.Chat.GetResponseAsync([new ChatMessage(ChatRole.User, "Tell me about a cat.")], new ChatOptions { MaxOutputTokens = 4 });
        Assert.NotNull(m.Manager.GetModelStats()["stories"].PromptCache);

        Assert.True(await m.Manager.UnloadModelAsync("stories"));

        Assert.NotEmpty(Directory.GetFiles(spill, "*.mmkv", SearchOption.AllDirectories));
    }

    [SharedModelFact(Marker)]
    public async Task TheConversationIdHint_KeepsOneCachedSequencePerConversation()
    {
        await using var cached = Manager(PromptCache(8, null));
        var history = new List<ChatMessage> { new(ChatRole.User, "Once upon a time") };
        for (var turn = 0; turn < 4; turn++)
        {
            var reply = await cached.Chat.GetResponseAsync(history, new ChatOptions { MaxOutputTokens = 6, ConversationId = "c1" });
            history.Add(new ChatMessage(ChatRole.Assistant, reply.Text));
            history.Add(new ChatMessage(ChatRole.User, "And then?"));
        }

        // Four turns of one conversation, and an edit of its history: still one sequence, not one per turn.
        await cached.Chat.GetResponseAsync([new ChatMessage(ChatRole.User, "A different start")], new ChatOptions { MaxOutputTokens = 6, ConversationId = "c1" });
        Assert.Equal(1, cached.Manager.GetModelStats()["stories"].PromptCache!.Sequences);
    }

    [SharedModelFact(Marker)]
    public async Task BadSpills_AreDiscardedWithAWarning_AndTheOutputIsStillExact()
    {
        var history = new List<ChatMessage> { new(ChatRole.System, "Lily liked the park."), new(ChatRole.User, "Tell me a story about a cat.") };
        var options = new ChatOptions { MaxOutputTokens = 16 };
        await using var plain = Manager("\"prompt_cache\": 0");
        var expected = (await plain.Chat.GetResponseAsync(history, options)).Text;

        // Corrupted (a flipped byte), truncated, and another model's file: each fails its check and is skipped.
        foreach (var damage in new Action<string>[] { Flip, Truncate })
        {
            var spill = TestCache.NewScratchDirectory();
            await Spill(spill, history, options);
            foreach (var file in Directory.GetFiles(spill, "*.mmkv", SearchOption.AllDirectories))
            {
                damage(file);
            }

            var logs = new LogCapture();
            await using var reloaded = Manager(PromptCache(8, spill), logs);
            var reply = await reloaded.Chat.GetResponseAsync(history, options);
            Assert.Equal(expected, reply.Text);
            Assert.Equal(0, reply.Usage!.CachedInputTokenCount);
            Assert.Contains(logs.Entries, e => e.EventId == 2002 && e.Level == LogLevel.Warning && e.Message.Contains("checksum", StringComparison.Ordinal));
            Assert.Empty(Directory.GetFiles(spill, "*.mmkv", SearchOption.AllDirectories)); // discarded files are deleted
        }

        // A spill of another context size (the identity differs) is never restored into this one.
        var other = TestCache.NewScratchDirectory();
        await Spill(other, history, options);
        var otherLogs = new LogCapture();
        await using (var resized = Manager(PromptCache(8, other), otherLogs, contextLength: 384))
        {
            var reply = await resized.Chat.GetResponseAsync(history, options);
            Assert.Equal(expected, reply.Text);
            Assert.Equal(0, reply.Usage!.CachedInputTokenCount);
            Assert.Contains(otherLogs.Entries, e => e.EventId == 2002 && e.Message.Contains("another model", StringComparison.Ordinal));
        }

        // A full folder (spill_mb 1, already holding a foreign 1 MB file) and a folder that cannot be created: skipped with a warning.
        var full = TestCache.NewScratchDirectory();
        await File.WriteAllBytesAsync(Path.Combine(full, "someone-else.mmkv"), new byte[1024 * 1024]);
        var blocked = Path.Combine(TestCache.NewScratchDirectory(), "a-file");
        await File.WriteAllTextAsync(blocked, "not a folder");
        foreach (var folder in new[] { full, Path.Combine(blocked, "spill") })
        {
            var logs = new LogCapture();
            await using var m = Manager($$"""
                "prompt_cache": { "sequences": 4, "spill_path": {{JsonSerializer.Serialize(folder)}}, "spill_mb": 1 }
                """, logs);
            Assert.Equal(expected, (await m.Chat.GetResponseAsync(history, options)).Text);
            Assert.True(await m.Manager.UnloadModelAsync("stories"));
            Assert.Contains(logs.Entries, e => e.EventId == 2001 && e.Level == LogLevel.Warning);
            Assert.Equal(expected, (await m.Chat.GetResponseAsync(history, options)).Text);
        }
    }

    [SharedModelFact(Marker)]
    public async Task TheCache_IsChargedAsItFills_AndGivenBackUnderPressure_BeforeAnyModelIsEvicted()
    {
        await using var m = Manager(PromptCache(16, null), extraModels: """{ "name": "other", "type": "fake", "memory_priority": 5, "parameters": { "size_mb": 1 } }""");
        await m.Manager.LoadModelAsync("stories");
        var empty = m.Manager.GetMemoryUsage().Models["stories"];
        Assert.Equal(0, empty.CacheBytes);

        // Sixteen conversations of some 300 tokens each: stories260K's KV is 640 bytes a token, so a few MB of cache.
        var random = new Random(7);
        for (var i = 0; i < 16; i++)
        {
            await m.Chat.GetResponseAsync([new ChatMessage(ChatRole.System, Sentence(random, 120)), new ChatMessage(ChatRole.User, "Go on.")], new ChatOptions { MaxOutputTokens = 4 });
        }

        var full = m.Manager.GetMemoryUsage().Models["stories"];
        var stats = m.Manager.GetModelStats()["stories"];
        output.WriteLine($"empty {empty}, full {full}, {stats.PromptCache}");
        Assert.True(full.CacheBytes > 2 * 1024 * 1024, $"{full.CacheBytes} bytes cached");
        Assert.Equal(stats.PromptCache!.Bytes, full.CacheBytes);
        Assert.Equal(Math.Max(full.EstimatedBytes, full.ActualBytes) + full.CacheBytes, full.ChargedBytes);
        Assert.Equal(full.ChargedBytes, m.Manager.GetMemoryUsage().TotalBytes);

        // A budget with room for the model and its cache but not another 1 MB model: the cache gives way, the model stays.
        var limitMb = (full.ChargedBytes + (1024 * 1024) - 1) / (1024 * 1024);
        await m.Manager.SetMemoryLimitAsync(limitMb);
        var evictions = 0;
        m.Manager.RegisterCallback(ModelEventKind.Evicted, _ => Interlocked.Increment(ref evictions));
        await m.Manager.LoadModelAsync("other");

        var after = m.Manager.GetMemoryUsage();
        Assert.Equal(0, evictions);
        Assert.Equal(ModelState.Ready, m.Manager.GetModelStats()["stories"].State);
        Assert.True(after.Models["stories"].CacheBytes <= full.CacheBytes - (1024 * 1024) + (limitMb * 1024 * 1024) - full.ChargedBytes, $"{after.Models["stories"].CacheBytes} left");
        Assert.True(after.TotalBytes <= after.LimitBytes, $"{after.TotalBytes} > {after.LimitBytes}");

        // A full budget: later turns still reuse what is left, and the cache never grows past the limit.
        for (var i = 0; i < 8; i++)
        {
            await m.Chat.GetResponseAsync([new ChatMessage(ChatRole.System, Sentence(random, 120)), new ChatMessage(ChatRole.User, "Go on.")], new ChatOptions { MaxOutputTokens = 4 });
            Assert.True(m.Manager.GetMemoryUsage().TotalBytes <= after.LimitBytes);
        }
    }

    [Theory]
    [InlineData("\"prompt_cache\": \"lots\"", "models[0].prompt_cache: 'lots' must be a number of sequences, true, false, or an object of sequences, memory_mb, spill_path, spill_mb")]
    [InlineData("\"prompt_cache\": -1", "models[0].prompt_cache: must be 0 (off) or more")]
    [InlineData("\"prompt_cache\": { \"sequences\": -2 }", "models[0].prompt_cache.sequences: must be 0 (off) or more")]
    [InlineData("\"prompt_cache\": { \"memory_mb\": 0 }", "models[0].prompt_cache.memory_mb: must be between 1 and 2147483647")]
    [InlineData("\"prompt_cache\": { \"spill_mb\": -5 }", "models[0].prompt_cache.spill_mb: must be between 1 and 2147483647")]
    [InlineData("\"prompt_cache\": { \"sequence\": 4 }", "models[0].prompt_cache.sequence: unknown key; prompt_cache takes sequences, memory_mb, spill_path, spill_mb")]
    [InlineData("\"prompt_cache\": { \"spill_path\": \"\" }", "models[0].prompt_cache.spill_path: must be a folder path")]
    public void ABadPromptCacheKey_IsAConfigurationError_NamingIt(string setting, string expected)
    {
        var error = Assert.Throws<ModelConfigurationException>(() => GgufManagers.Create($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Stories(extra: setting)}} ] }"""));

        Assert.Contains(expected, error.Errors);
    }

    private static string PromptCache(int sequences, string? spill) => spill is null
        ? $$"""
          "prompt_cache": { "sequences": {{sequences}} }
          """
        : $$"""
          "prompt_cache": { "sequences": {{sequences}}, "spill_path": {{JsonSerializer.Serialize(spill)}}, "spill_mb": 64 }
          """;

    private static async Task Spill(string folder, List<ChatMessage> history, ChatOptions options)
    {
        await using var m = Manager(PromptCache(8, folder));
        await m.Chat.GetResponseAsync(history, options);
        Assert.True(await m.Manager.UnloadModelAsync("stories"));
        Assert.NotEmpty(Directory.GetFiles(folder, "*.mmkv", SearchOption.AllDirectories));
    }

    private static void Flip(string file)
    {
        var bytes = File.ReadAllBytes(file);
        bytes[bytes.Length / 2] ^= 0x40;
        File.WriteAllBytes(file, bytes);
    }

    private static void Truncate(string file)
    {
        var bytes = File.ReadAllBytes(file);
        File.WriteAllBytes(file, bytes[..(bytes.Length * 2 / 3)]);
    }

    private static async Task<int> PromptTokens(CachedManager m, IList<ChatMessage> messages)
    {
        var probe = await m.Model.AsChatClient().GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 1 });
        return (int)probe.Usage!.InputTokenCount!.Value;
    }

    private static string Sentence(Random random, int words) =>
        string.Join(" ", Enumerable.Range(0, words).Select(_ => Words[random.Next(Words.Length)])) + ".";

    private static CachedManager Manager(string cacheSetting, LogCapture? logs = null, int parallel = 2, int contextLength = 512, string? extraModels = null)
    {
        var path = Path.Combine(TestCache.NewScratchDirectory(), "config.json");
        File.WriteAllText(path, $$"""
            { "max_memory_mb": 512, "models": [ { "name": "stories", "type": "gguf", "path": {{JsonSerializer.Serialize(SharedModels.Stories260K)}}, "memory_priority": 1,
              "context_length": {{contextLength}}, "parallel": {{parallel}}, "parameters": { "do_sample": false }, {{cacheSetting}} }{{(extraModels is null ? "" : ", " + extraModels)}} ] }
            """);
        var services = new ServiceCollection();
        if (logs is not null)
        {
            services.AddLogging(b => b.AddProvider(logs).SetMinimumLevel(LogLevel.Trace));
        }

        services.AddModelManager(path).AddLlamaSharp().AddFakeBackend();
        return new CachedManager(services.BuildServiceProvider());
    }

    private sealed class CachedManager(ServiceProvider services) : IAsyncDisposable
    {
        public IModelManager Manager { get; } = services.GetRequiredService<IModelManager>();

        public ILanguageModel Model => Manager.GetModel("stories");

        public IChatClient Chat => Model.AsChatClient();

        public ValueTask DisposeAsync() => services.DisposeAsync();
    }
}
