namespace ModelManager.Tests;

/// <summary>A corpus of malformed configurations: each must be rejected with an error that names its exact JSON path.</summary>
public sealed class ConfigurationCorpusTests
{
    private const string Ok = """{ "name": "a", "type": "fake", "parameters": { "size_mb": 1 } }""";

    public static TheoryData<string, string, string> Corpus => new()
    {
        { "negative limit", """{ "max_memory_mb": -5, "models": [ OK ] }""", "max_memory_mb: must be greater than 0, got -5" },
        { "zero limit", """{ "max_memory_mb": 0, "models": [ OK ] }""", "max_memory_mb: must be greater than 0, got 0" },
        { "limit not a number", """{ "max_memory_mb": "lots", "models": [ OK ] }""", "max_memory_mb: 'lots' is not an integer" },
        { "limit is an object", """{ "max_memory_mb": { "a": 1 }, "models": [ OK ] }""", "max_memory_mb: expected an integer, got an object or array" },
        { "negative wait", """{ "load_wait_timeout": -1, "models": [ OK ] }""", "load_wait_timeout: must be 0 or more seconds, got -1" },
        { "negative load timeout", """{ "load_timeout": -2, "models": [ OK ] }""", "load_timeout: must be 0 (no limit) or more seconds, got -2" },
        { "models is an object", """{ "models": { "a": { "name": "a" } } }""", "models: expected an array, got an object (key 'a')" },
        { "models is a string", """{ "models": "a" }""", "models: expected an array, got 'a'" },
        { "model is a number", """{ "models": [ OK, 5 ] }""", "models[1]: expected an object, got '5'" },
        { "empty name", """{ "models": [ OK, { "name": "", "type": "fake" } ] }""", "models[1].name: must not be empty" },
        { "missing name", """{ "models": [ { "type": "fake" } ] }""", "models[0].name: must not be empty" },
        { "duplicate name", """{ "models": [ OK, { "name": "a", "type": "fake" } ] }""", "models[1].name: duplicate name 'a' (first used by models[0])" },
        { "unknown type", """{ "models": [ OK, { "name": "b", "type": "pytorch" } ] }""", "models[1].type: unknown type 'pytorch'" },
        { "unregistered type", """{ "models": [ { "name": "b", "type": "gguf", "path": "x.gguf" } ] }""", "models[0].type: 'gguf' has no registered backend; call builder.AddLlamaSharp()" },
        { "missing type", """{ "models": [ { "name": "b" } ] }""", "models[0].type: must not be empty" },
        { "priority too high", """{ "models": [ OK, { "name": "b", "type": "fake", "memory_priority": 7 } ] }""", "models[1].memory_priority: must be between 1 (keep longest) and 5 (evict first), got 7" },
        { "priority zero", """{ "models": [ { "name": "b", "type": "fake", "memory_priority": 0 } ] }""", "models[0].memory_priority: must be between 1 (keep longest) and 5 (evict first), got 0" },
        { "priority not integer", """{ "models": [ { "name": "b", "type": "fake", "memory_priority": "high" } ] }""", "models[0].memory_priority: 'high' is not an integer" },
        { "negative idle", """{ "models": [ { "name": "b", "type": "fake", "max_idle_time": -3 } ] }""", "models[0].max_idle_time: must be 0 (never) or more seconds, got -3" },
        { "zero context", """{ "models": [ { "name": "b", "type": "fake", "context_length": 0 } ] }""", "models[0].context_length: must be at least 1, got 0" },
        { "context not a number", """{ "models": [ { "name": "b", "type": "fake", "context_length": "big" } ] }""", "models[0].context_length: 'big' is not an integer" },
        { "preload not bool", """{ "models": [ { "name": "b", "type": "fake", "preload": "yes" } ] }""", "models[0].preload: 'yes' is not true or false" },
        { "negative temperature", """{ "models": [ { "name": "b", "type": "fake", "parameters": { "temperature": -1 } } ] }""", "models[0].parameters.temperature: must be 0 or more, got -1" },
        { "zero max_tokens", """{ "models": [ { "name": "b", "type": "fake", "parameters": { "max_tokens": 0 } } ] }""", "models[0].parameters.max_tokens: must be at least 1, got 0" },
        { "top_p above 1", """{ "models": [ { "name": "b", "type": "fake", "parameters": { "top_p": 1.5 } } ] }""", "models[0].parameters.top_p: must be between 0 and 1, got 1.5" },
        { "do_sample not bool", """{ "models": [ { "name": "b", "type": "fake", "parameters": { "do_sample": 3 } } ] }""", "models[0].parameters.do_sample: '3' is not true or false" },
        { "parameters is a string", """{ "models": [ { "name": "b", "type": "fake", "parameters": "fast" } ] }""", "models[0].parameters: expected an object, got 'fast'" },
        { "fallback unknown", """{ "models": [ OK, { "name": "b", "type": "fake", "fallbacks": [ "a", "zz" ] } ] }""", "models[1].fallbacks[1]: unknown model 'zz'" },
        { "fallback is a string", """{ "models": [ OK, { "name": "b", "type": "fake", "fallbacks": "a" } ] }""", "models[1].fallbacks: expected an array of names, got 'a'" },
        { "fallback to itself", """{ "models": [ { "name": "a", "type": "fake", "fallbacks": [ "a" ] } ] }""", "models[0].fallbacks[0]: 'a' cannot be its own fallback" },
        { "fallback cycle", """{ "models": [ { "name": "a", "type": "fake", "fallbacks": [ "b" ] }, { "name": "b", "type": "fake", "fallbacks": [ "c" ] }, { "name": "c", "type": "fake", "fallbacks": [ "a" ] } ] }""", "fallback cycle a -> b -> c -> a" },
        { "agent unknown model", """{ "models": [ OK ], "agents": { "Coder": { "model": "nope" } } }""", "agents.Coder.model: unknown model 'nope'" },
        { "agent without model", """{ "models": [ OK ], "agents": { "Coder": { "fallbacks": [ "a" ] } } }""", "agents.Coder.model: must name a model" },
        { "agent unknown fallback", """{ "models": [ OK ], "agents": { "Coder": { "model": "a", "fallbacks": [ "x" ] } } }""", "agents.Coder.fallbacks[0]: unknown model 'x'" },
        { "default model unknown", """{ "default_model": "ghost", "models": [ OK ] }""", "default_model: unknown model 'ghost'" },
        { "preload cannot fit", """{ "max_memory_mb": 10, "models": [ { "name": "a", "type": "fake", "preload": true, "parameters": { "size_mb": 8 } }, { "name": "b", "type": "fake", "preload": true, "parameters": { "size_mb": 8 } } ] }""", "max_memory_mb: the preloaded models need 16 MB (a 8 MB, b 8 MB) but the budget is 10 MB" },
        { "backend key invalid", """{ "models": [ { "name": "a", "type": "fake", "parameters": { "size_mb": -2 } } ] }""", "models[0].parameters.size_mb: must be between 0 and 1048576, got -2" },
        { "backend key malformed", """{ "models": [ { "name": "a", "type": "fake", "parameters": { "load_delay_ms": "slow" } } ] }""", "models[0].parameters.load_delay_ms: 'slow' is not an integer" },
        { "malformed JSON", "{ \"models\": [ OK \n  \"oops\" ] }", "test.json: malformed JSON at line 2, column 3" },
        { "root is an array", "[ 1, 2 ]", "test.json: the configuration must be a JSON object, got Array" },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public void Validate_MalformedConfig_ReportsExactJsonPath(string name, string json, string expected)
    {
        var options = TestManagers.Options(json.Replace("OK", Ok, StringComparison.Ordinal));
        var e = Assert.Throws<ModelConfigurationException>(() => ModelConfigurationValidator.Validate(options, Backends()));
        Assert.True(e.Errors.Any(x => x.Contains(expected, StringComparison.Ordinal)),
            $"[{name}] expected an error containing «{expected}», got:\n{string.Join("\n", e.Errors)}");
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Corpus_HasAtLeast25Cases() => Assert.True(Corpus.Count >= 25, $"only {Corpus.Count} cases");

    [Fact]
    public void Validate_ManyProblems_ReportsEveryOneAtOnce()
    {
        var options = TestManagers.Options("""
            { "max_memory_mb": -1,
              "models": [ { "name": "", "type": "fake", "memory_priority": 9 }, { "name": "b", "type": "nope", "max_idle_time": -1 } ],
              "agents": { "A": { "model": "zz" } } }
            """);
        var e = Assert.Throws<ModelConfigurationException>(() => ModelConfigurationValidator.Validate(options, Backends()));
        Assert.Equal(6, e.Errors.Count);
        Assert.Contains(e.Errors, x => x.StartsWith("max_memory_mb:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("models[0].name:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("models[0].memory_priority:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("models[1].type:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("models[1].max_idle_time:", StringComparison.Ordinal));
        Assert.Contains(e.Errors, x => x.StartsWith("agents.A.model:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("""{ "models": [ { "name": "a", "type": "fake", "memory_prority": 2 } ] }""", "models[0].memory_prority: unknown key 'memory_prority' is ignored (did you mean 'memory_priority'?)")]
    [InlineData("""{ "max_memroy_mb": 5, "models": [ ] }""", "max_memroy_mb: unknown key 'max_memroy_mb' is ignored (did you mean 'max_memory_mb'?)")]
    [InlineData("""{ "models": [ { "name": "a", "type": "fake", "parameters": { "temprature": 0.5 } } ] }""", "models[0].parameters.temprature: unknown key 'temprature' is ignored (did you mean 'temperature'?)")]
    [InlineData("""{ "models": [ { "name": "a", "type": "fake" } ], "agents": { "X": { "model": "a", "fallback": [] } } }""", "agents.X.fallback: unknown key 'fallback' is ignored (did you mean 'fallbacks'?)")]
    public void Validate_UnknownKey_IsAWarningNamingTheKey(string json, string expected)
    {
        var config = ModelConfigurationValidator.Validate(TestManagers.Options(json), Backends());
        Assert.Contains(expected, config.Warnings);
    }

    [Fact]
    public void Validate_TwoModelsOverOneFile_IsAWarningNamingBoth()
    {
        var json = """{ "models": [ { "name": "a", "type": "fake", "path": "/m/x.bin" }, { "name": "b", "type": "fake", "path": "/m/x.bin" }, { "name": "c", "type": "fake", "path": "/m/y.bin" } ] }""";

        var config = ModelConfigurationValidator.Validate(TestManagers.Options(json), Backends());

        var warning = Assert.Single(config.Warnings, w => w.Contains("same fake file", StringComparison.Ordinal));
        Assert.StartsWith("models[1].path: 'b' names the same fake file as 'a' (models[0])", warning, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ABudgetAboveTheMachine_IsAWarning_ABudgetWithinIt_IsNot()
    {
        var machineMb = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes >> 20;
        var over = ModelConfigurationValidator.Validate(TestManagers.Options($$"""{ "max_memory_mb": {{machineMb * 4}}, "models": [ { "name": "a", "type": "fake" } ] }"""), Backends());
        var within = ModelConfigurationValidator.Validate(TestManagers.Options($$"""{ "max_memory_mb": {{Math.Max(1, machineMb / 2)}}, "models": [ { "name": "a", "type": "fake" } ] }"""), Backends());

        Assert.Contains(over.Warnings, w => w.StartsWith("max_memory_mb:", StringComparison.Ordinal) && w.Contains("container", StringComparison.Ordinal));
        Assert.DoesNotContain(within.Warnings, w => w.StartsWith("max_memory_mb:", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_MissingFile_NamesTheFile()
    {
        var options = new ModelManagerOptions();
        var path = Path.Combine(Path.GetTempPath(), "no-such-dir-mm", "config.json");
        ModelConfigurationLoader.LoadFile(path, options);
        var e = Assert.Throws<ModelConfigurationException>(() => ModelConfigurationValidator.Validate(options, Backends()));
        Assert.Equal($"{path}: configuration file not found", Assert.Single(e.Errors));
    }

    [Fact]
    public void ARelativePath_NotInTheWorkingDirectory_IsFoundBesideTheApp_AndAMissingOneSaysWhereItLooked()
    {
        var app = Path.Combine(Path.GetTempPath(), $"mm-app-{Guid.NewGuid():N}");
        Directory.CreateDirectory(app);
        var name = $"mm-config-{Guid.NewGuid():N}.json"; // nowhere in the working directory
        try
        {
            var missing = new ModelManagerOptions();
            ModelConfigurationLoader.LoadFile(name, missing, app);
            var e = Assert.Throws<ModelConfigurationException>(() => ModelConfigurationValidator.Validate(missing, Backends()));
            Assert.Equal($"{name}: configuration file not found; looked in {Path.GetFullPath(name)} and {Path.Combine(app, name)} (the working directory, then the app's base directory)",
                Assert.Single(e.Errors));

            File.WriteAllText(Path.Combine(app, name), """{ "max_memory_mb": 64, "models": [ { "name": "a", "type": "fake" } ] }""");
            var options = new ModelManagerOptions();
            ModelConfigurationLoader.LoadFile(name, options, app);
            Assert.Equal(Path.Combine(app, name), options.Source);
            Assert.Equal("a", Assert.Single(ModelConfigurationValidator.Validate(options, Backends()).Models).Name);
        }
        finally
        {
            Directory.Delete(app, recursive: true);
        }
    }

    private static Dictionary<string, IModelBackend> Backends() => new() { ["fake"] = new FakeModelBackend() };
}
