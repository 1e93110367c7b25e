using System.Diagnostics;
using System.Text;

namespace ModelManager.Tests;

/// <summary>Random and mutated bytes through the config loader and validator: only typed errors, bounded time.</summary>
public sealed class ConfigurationFuzzTests
{
    private const string Seed = """
        { "max_memory_mb": 100, "default_model": "a", "load_wait_timeout": 1,
          "models": [ { "name": "a", "type": "fake", "path": "./a", "context_length": 512, "memory_priority": 2, "max_idle_time": 5,
                        "preload": false, "fallbacks": [ "b" ], "parameters": { "temperature": 0.1, "max_tokens": 8, "stop": [ "x" ], "size_mb": 1 } },
                      { "name": "b", "type": "fake", "parameters": { "size_mb": 2 } } ],
          "agents": { "A": { "model": "a", "fallbacks": [ "b" ] } } }
        """;

    [Fact]
    public void MutatedConfigs_OnlyEverGiveModelConfigurationExceptionOrAValidConfig()
    {
        var rng = new Random(20261126);
        var seed = Encoding.UTF8.GetBytes(Seed);
        var backends = new Dictionary<string, IModelBackend> { ["fake"] = new FakeModelBackend() };
        var valid = 0;
        var rejected = 0;
        var slowest = TimeSpan.Zero;
        for (var i = 0; i < 3000; i++)
        {
            var bytes = i % 10 == 0 ? RandomBytes(rng) : Mutate(rng, seed);
            var sw = Stopwatch.StartNew();
            var options = new ModelManagerOptions();
            ModelConfigurationLoader.LoadJson(bytes, "fuzz.json", options);
            try
            {
                var config = ModelConfigurationValidator.Validate(options, backends, checkPreloadFit: true);
                Assert.NotNull(config.Models);
                valid++;
            }
            catch (ModelConfigurationException e)
            {
                Assert.NotEmpty(e.Errors);
                Assert.All(e.Errors, x => Assert.False(string.IsNullOrWhiteSpace(x)));
                rejected++;
            }

            slowest = sw.Elapsed > slowest ? sw.Elapsed : slowest;
        }

        Assert.True(valid > 50 && rejected > 500, $"valid {valid}, rejected {rejected}: the mutations should hit both outcomes");
        Assert.True(slowest < TimeSpan.FromSeconds(2), $"slowest input took {slowest}");
    }

    private static byte[] RandomBytes(Random rng)
    {
        var b = new byte[rng.Next(0, 300)];
        rng.NextBytes(b);
        return b;
    }

    private static byte[] Mutate(Random rng, byte[] seed)
    {
        var b = seed.ToList();
        var n = rng.Next(1, 4);
        const string tokens = "{}[]\":,-0123456789.eEtruefalsn \n\\";
        for (var k = 0; k < n; k++)
        {
            var at = rng.Next(b.Count);
            switch (rng.Next(4))
            {
                case 0: b[at] = (byte)tokens[rng.Next(tokens.Length)]; break;
                case 1: b.RemoveAt(at); break;
                case 2: b.Insert(at, (byte)tokens[rng.Next(tokens.Length)]); break;
                default: b.RemoveRange(at, Math.Min(b.Count - at, rng.Next(1, 20))); break;
            }
        }

        return b.ToArray();
    }
}
