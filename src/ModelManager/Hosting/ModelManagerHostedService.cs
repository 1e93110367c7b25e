using Microsoft.Extensions.Hosting;

namespace ModelManager;

/// <summary>Validates the configuration and preloads models when the host starts; unloads everything when it stops.</summary>
internal sealed class ModelManagerHostedService(IModelManager manager) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) =>
        manager is DefaultModelManager d ? d.PreloadAsync(cancellationToken) : Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => manager.ShutdownAsync(cancellationToken);
}
