using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.IntegrationTests;

/// <summary>A manager in its own container, for a test about one of its models: the manager, that model's handle, and disposal.</summary>
/// <remarks>Used by the gguf and the huggingface backend tests (<see cref="GgufManagers.CreateStories()"/>, <see cref="OnnxManagers.CreateTiny"/>).</remarks>
internal sealed class OneModelManager : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public OneModelManager(ServiceProvider services, string modelName)
    {
        _services = services;
        Manager = services.GetRequiredService<IModelManager>();
        Model = Manager.GetModel(modelName);
    }

    public IModelManager Manager { get; }

    public ILanguageModel Model { get; }

    public ValueTask DisposeAsync() => _services.DisposeAsync();
}
