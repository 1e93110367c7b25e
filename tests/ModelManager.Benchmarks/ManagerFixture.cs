using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.Benchmarks;

/// <summary>A manager built the way an app builds it (DI + a config file), over the fake and real backends.</summary>
internal sealed class ManagerFixture : IAsyncDisposable
{
    private readonly ServiceProvider _services;
    private readonly string _directory;

    private ManagerFixture(ServiceProvider services, string directory)
    {
        _services = services;
        _directory = directory;
        Manager = (DefaultModelManager)services.GetRequiredService<IModelManager>();
    }

    public DefaultModelManager Manager { get; }

    /// <summary>The app's container: backends, options.</summary>
    public IServiceProvider Services => _services;

    /// <summary>A manager over <paramref name="json"/> (the config.json schema) with the gguf, onnx and fake backends.</summary>
    public static Task<ManagerFixture> CreateAsync(string json)
    {
        var directory = Path.Combine(Path.GetTempPath(), "modelmanager-benchmarks", "configs", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, "config.json");
        File.WriteAllText(path, json);
        var services = new ServiceCollection();
        services.AddModelManager(path).AddLlamaSharp().AddOnnxGenAI().AddFakeBackend();
        return Task.FromResult(new ManagerFixture(services.BuildServiceProvider(), directory));
    }

    public async ValueTask DisposeAsync()
    {
        await Manager.ShutdownAsync().ConfigureAwait(false);
        await _services.DisposeAsync().ConfigureAwait(false);
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
