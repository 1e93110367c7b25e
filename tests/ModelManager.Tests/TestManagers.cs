using System.Text;

namespace ModelManager.Tests;

/// <summary>Builds managers over the fake backend from JSON or code, with a fake clock.</summary>
internal static class TestManagers
{
    public static (DefaultModelManager Manager, FakeModelBackend Backend) FromJson(string json, TimeProvider? time = null)
    {
        var options = Options(json);
        var backend = new FakeModelBackend();
        return (new DefaultModelManager(options, [backend], time ?? new FakeTimeProvider()), backend);
    }

    public static ModelManagerOptions Options(string json)
    {
        var options = new ModelManagerOptions();
        ModelConfigurationLoader.LoadJson(Encoding.UTF8.GetBytes(json), "test.json", options);
        return options;
    }

    /// <summary>A fake model entry as JSON.</summary>
    public static string Fake(string name, double sizeMb, int priority = 3, double idle = 0, string extra = "", string parameters = "") =>
        $$"""{ "name": "{{name}}", "type": "fake", "memory_priority": {{priority}}, "max_idle_time": {{idle}}, "parameters": { "size_mb": {{sizeMb}} {{(parameters.Length > 0 ? ", " + parameters : "")}} } {{(extra.Length > 0 ? ", " + extra : "")}} }""";

    public static string Config(long maxMb, params string[] models) =>
        $$"""{ "max_memory_mb": {{maxMb}}, "load_wait_timeout": 1, "models": [ {{string.Join(", ", models)}} ] }""";

    /// <summary>Polls <paramref name="condition"/> every 10 ms until it holds; failing after 30 s means it never would (a hang guard, not a bound).</summary>
    public static async Task WaitUntilAsync(Func<bool> condition, string what = "the condition")
    {
        for (var i = 0; i < 3000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition(), $"{what} did not hold within 30 s");
    }

    /// <summary>Waits for an event of <paramref name="kind"/> on <paramref name="model"/>.</summary>
    public static Task<ModelEventArgs> Next(IModelManager manager, ModelEventKind kind, string model)
    {
        var tcs = new TaskCompletionSource<ModelEventArgs>(TaskCreationOptions.RunContinuationsAsynchronously);
        EventHandler<ModelEventArgs>? handler = null;
        handler = (_, e) =>
        {
            if (e.Kind == kind && e.ModelName == model && tcs.TrySetResult(e))
            {
                manager.ModelEvent -= handler;
            }
        };
        manager.ModelEvent += handler;
        return tcs.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public const long Mb = 1024 * 1024;
}
