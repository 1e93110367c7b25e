using Microsoft.Extensions.Hosting;

namespace ModelManager;

/// <summary>Validates the configuration and preloads models when the host starts; unloads everything when it stops.</summary>
internal sealed class ModelManagerHostedService(DefaultModelManager manager) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => manager.PreloadAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => manager.ShutdownAsync(cancellationToken);
}
