using Microsoft.Extensions.Logging;

namespace ModelManager.Tests;

public sealed class FallbackTests
{
    [Fact]
    public async Task FailingModel_FallsBackInOrder_AndRaisesFallbackUsed()
    {
        var (m, _) = FromJson(Config(100,
            Fake("primary", 10, parameters: "\"fail_load\": true", extra: "\"fallbacks\": [\"broken\", \"backup\"]"),
            Fake("broken", 10, parameters: "\"fail_load\": true"),
            Fake("backup", 10)));
        var fallback = Next(m, ModelEventKind.FallbackUsed, "primary");

        var text = await m.GetModel("primary").GenerateAsync("hi");

        Assert.Equal(FakeModelInstance.Expected("backup", "hi", 16), text);
        var e = await fallback;
        Assert.Equal("backup", e.Detail);
        Assert.IsAssignableFrom<ModelLoadException>(e.Exception);
        var stats = m.GetModelStats();
        Assert.Equal(1, stats["primary"].FallbackCount);
        Assert.Equal(1, stats["primary"].FailureCount);
        Assert.Equal(1, stats["broken"].FailureCount);
        Assert.Equal(ModelState.Ready, stats["backup"].State);
    }

    [Fact]
    public async Task ModelThatCannotFit_FallsBackAtOnce_WithoutWaiting()
    {
        var (m, _) = FromJson(Config(100,
            Fake("held", 70, priority: 1),
            Fake("big", 50, priority: 3, extra: "\"fallbacks\": [\"small\"]"),
            Fake("small", 20)).Replace("\"load_wait_timeout\": 1", "\"load_wait_timeout\": 60", StringComparison.Ordinal));
        await using var lease = await m.AcquireAsync("held");

        var sw = System.Diagnostics.Stopwatch.StartNew();
        await using var got = await m.AcquireAsync("big");

        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), $"fell back after {sw.Elapsed}");
        Assert.Equal("small", got.ModelName);
        Assert.True(got.IsFallback);
        Assert.Equal("big", got.RequestedName);
    }

    [Fact]
    public async Task AgentFallbacks_OverrideTheModelsOwn()
    {
        var json = """
            { "max_memory_mb": 100, "models": [
                { "name": "main", "type": "fake", "parameters": { "fail_load": true }, "fallbacks": [ "model-fb" ] },
                { "name": "model-fb", "type": "fake" }, { "name": "agent-fb", "type": "fake" } ],
              "agents": { "Coder": { "model": "main", "fallbacks": [ "agent-fb" ] }, "Plain": { "model": "main" } } }
            """;
        var (m, _) = FromJson(json);
        Assert.Equal(FakeModelInstance.Expected("agent-fb", "q", 16), await m.GetAgentModel("Coder").GenerateAsync("q"));
        Assert.Equal(FakeModelInstance.Expected("model-fb", "q", 16), await m.GetAgentModel("Plain").GenerateAsync("q"));
    }

    [Fact]
    public async Task AllCandidatesFail_ThrowsOneErrorNamingEach()
    {
        var (m, _) = FromJson(Config(100,
            Fake("a", 10, parameters: "\"fail_load\": true", extra: "\"fallbacks\": [\"b\"]"),
            Fake("b", 10, parameters: "\"fail_load\": true")));
        var e = await Assert.ThrowsAsync<ModelLoadException>(() => m.GetModelAsync("a"));
        Assert.Equal("a", e.ModelName);
        Assert.Contains("fake load failure of 'a'", e.Message, StringComparison.Ordinal);
        Assert.Contains("fake load failure of 'b'", e.Message, StringComparison.Ordinal);
        Assert.Equal(2, Assert.IsType<AggregateException>(e.InnerException).InnerExceptions.Count);
    }

    [Fact]
    public async Task UnreadableModelInAChain_CountsAsAFailedLoad_AndFallsBack()
    {
        var (m, _) = FromJson(Config(100, Fake("bad", 10, parameters: "\"fail_estimate\": true", extra: "\"fallbacks\": [\"good\"]"), Fake("good", 10)));
        var failed = Next(m, ModelEventKind.LoadFailed, "bad");

        Assert.Equal(FakeModelInstance.Expected("good", "x", 16), await m.GetModel("bad").GenerateAsync("x"));

        Assert.IsType<ModelFormatException>((await failed).Exception);
        Assert.Equal(1, m.GetModelStats()["bad"].FailureCount);
        Assert.Equal(1, m.GetModelStats()["bad"].FallbackCount);
    }

    [Fact]
    public async Task ACorruptPrimary_IsNotReReadOnEveryCall_ItCoolsDown_UntilFailureCooldownPasses()
    {
        var time = new FakeTimeProvider();
        var logs = new CountingLoggerFactory();
        var options = Options(Config(100, Fake("bad", 10, parameters: "\"fail_estimate\": true", extra: "\"fallbacks\": [\"good\"]"), Fake("good", 10)).Replace("\"load_wait_timeout\": 1", "\"load_wait_timeout\": 1, \"failure_cooldown\": 30", StringComparison.Ordinal));
        await using var m = new DefaultModelManager(options, [new FakeModelBackend()], time, logs);
        var failures = 0;
        m.RegisterCallback(ModelEventKind.LoadFailed, _ => Interlocked.Increment(ref failures));

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(FakeModelInstance.Expected("good", "x", 16), await m.GetModel("bad").GenerateAsync("x"));
        }

        var stats = m.GetModelStats()["bad"];
        Assert.Equal(1, failures); // read once, not three times
        Assert.Equal(1, stats.FailureCount);
        Assert.Equal(3, stats.FallbackCount);
        Assert.Equal(time.GetUtcNow().AddSeconds(30), stats.CoolDownUntil);
        Assert.Equal(1, logs.Count(LogLevel.Error, 1002)); // one failed load, with its stack
        Assert.Equal(1, logs.Count(LogLevel.Warning, 1022)); // then one line for every repeat, without one
        Assert.Null(logs.Exception(1022));

        // A direct load repeats the same failure at once.
        var direct = await Assert.ThrowsAsync<ModelFormatException>(() => m.LoadModelAsync("bad"));
        Assert.Contains("fail_estimate", direct.Message, StringComparison.Ordinal);
        Assert.Equal(1, failures);

        time.Advance(TimeSpan.FromSeconds(31));
        await m.GetModel("bad").GenerateAsync("x");
        Assert.Equal(2, failures); // tried again once the cool-down passed
        Assert.Equal(2, m.GetModelStats()["bad"].FailureCount);
    }

    [Fact]
    public async Task ACoolingDownModel_IsRetriedAtOnce_WhenItsFileChanges()
    {
        var file = Path.Combine(Path.GetTempPath(), $"cooldown-{Guid.NewGuid():N}.bin");
        await File.WriteAllTextAsync(file, "broken");
        try
        {
            var (m, _) = FromJson(Config(100, Fake("bad", 10, parameters: "\"fail_estimate\": true", extra: $"\"path\": {System.Text.Json.JsonSerializer.Serialize(file)}, \"fallbacks\": [\"good\"]"), Fake("good", 10)));
            await using var _ = m;
            var failures = 0;
            m.RegisterCallback(ModelEventKind.LoadFailed, _ => Interlocked.Increment(ref failures));
            await m.GetModel("bad").GenerateAsync("x");
            await m.GetModel("bad").GenerateAsync("x");
            Assert.Equal(1, failures);

            await File.WriteAllTextAsync(file, "replaced by a longer file");
            await m.GetModel("bad").GenerateAsync("x");

            Assert.Equal(2, failures);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task FailureCooldownZero_RetriesOnEveryCall()
    {
        var (m, _) = FromJson(Config(100, Fake("bad", 10, parameters: "\"fail_estimate\": true", extra: "\"fallbacks\": [\"good\"]"), Fake("good", 10)).Replace("\"load_wait_timeout\": 1", "\"load_wait_timeout\": 1, \"failure_cooldown\": 0", StringComparison.Ordinal));
        await using var _ = m;
        for (var i = 0; i < 3; i++)
        {
            await m.GetModel("bad").GenerateAsync("x");
        }

        Assert.Equal(3, m.GetModelStats()["bad"].FailureCount);
        Assert.Null(m.GetModelStats()["bad"].CoolDownUntil);
    }

    /// <summary>Counts log lines by level and event id, and keeps the exception each id last carried.</summary>
    private sealed class CountingLoggerFactory : ILoggerFactory, ILogger
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<(LogLevel Level, int Id, Exception? Exception)> _lines = new();

        public int Count(LogLevel level, int id) => _lines.Count(l => l.Level == level && l.Id == id);

        public Exception? Exception(int id) => _lines.LastOrDefault(l => l.Id == id).Exception;

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            _lines.Enqueue((logLevel, eventId.Id, exception));
    }

    [Fact]
    public async Task LoadedModelThatBecomesUnavailable_IsEvicted_AndTheCallFallsBack()
    {
        var (m, _) = FromJson(Config(100, Fake("remote", 10, parameters: "\"unavailable\": true", extra: "\"fallbacks\": [\"local\"]"), Fake("local", 10)));
        await m.LoadModelAsync("remote");
        var evicted = Next(m, ModelEventKind.Evicted, "remote");
        var fallback = Next(m, ModelEventKind.FallbackUsed, "remote");

        var text = await m.GetModel("remote").GenerateAsync("x");
        var chat = await Microsoft.Extensions.AI.ChatClientExtensions.GetResponseAsync(m.GetModel("remote").AsChatClient(), "y");

        Assert.Equal(FakeModelInstance.Expected("local", "x", 16), text);
        Assert.Equal("local", chat.ModelId);
        Assert.Equal(UnloadReason.Unavailable, (await evicted).Reason);
        Assert.Equal("local", (await fallback).Detail);
        Assert.Equal(0, m.GetModelStats()["remote"].ActiveLeases);
    }

    [Fact]
    public async Task UnavailableModelWithoutFallback_PassesTheErrorOn_AndStaysLoaded()
    {
        var (m, _) = FromJson(Config(100, Fake("remote", 10, parameters: "\"unavailable\": true")));
        await m.LoadModelAsync("remote");
        var e = await Assert.ThrowsAsync<ModelUnavailableException>(() => m.GetModel("remote").GenerateAsync("x"));
        Assert.Equal("remote", e.ModelName);
        Assert.Equal(ModelState.Ready, m.GetModelStats()["remote"].State);
        Assert.Equal(1, m.GetModelStats()["remote"].LoadCount);
    }

    [Fact]
    public void GetAgents_ListsEachAgentsChain()
    {
        var (m, _) = FromJson("""
            { "max_memory_mb": 100, "models": [ { "name": "a", "type": "fake", "fallbacks": [ "b" ] }, { "name": "b", "type": "fake" }, { "name": "c", "type": "fake" } ],
              "agents": { "X": { "model": "a" }, "Y": { "model": "a", "fallbacks": [ "c" ] } } }
            """);
        var agents = m.GetAgents();
        Assert.Equal(["a", "b"], agents["X"]);
        Assert.Equal(["a", "c"], agents["Y"]);
    }

    [Fact]
    public async Task LoadModelAsync_DoesNotFallBack()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 10, parameters: "\"fail_load\": true", extra: "\"fallbacks\": [\"b\"]"), Fake("b", 10)));
        await Assert.ThrowsAsync<ModelLoadException>(() => m.LoadModelAsync("a"));
        Assert.Equal(ModelState.Unloaded, m.GetModelStats()["b"].State);
    }
}
