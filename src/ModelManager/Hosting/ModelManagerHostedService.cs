using Microsoft.Extensions.Hosting;

namespace ModelManager;

/// <summary>Validates the configuration and preloads models when the host starts; unloads everything when it stops.</summary>
/// <remarks>
/// The shutdown begins in <see cref="StoppingAsync"/>, before any hosted service stops: a web server stops first and waits
/// for its requests, and a request waiting for a load (one stuck in native code, say) must get its "shutting down" answer
/// then, not when the host's shutdown timeout ends. Calls already running keep their leases until the same token fires.
/// </remarks>
internal sealed class ModelManagerHostedService(DefaultModelManager manager) : IHostedLifecycleService
{
    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => manager.PreloadAsync(cancellationToken);

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken)
    {
        _ = manager.ShutdownAsync(cancellationToken); // begun, not awaited: StopAsync awaits the same shutdown
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => manager.ShutdownAsync(cancellationToken);

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
