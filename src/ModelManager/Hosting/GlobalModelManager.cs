using Microsoft.Extensions.DependencyInjection;

namespace ModelManager;

/// <summary>A process-wide manager for code without DI: the guide's <c>initialize_model_manager(path)</c> and <c>get_model_manager()</c>.</summary>
/// <remarks>Thread-safe. Prefer <c>services.AddModelManager(...)</c> in apps that have a container.</remarks>
public static class GlobalModelManager
{
    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static ServiceProvider? _provider;
    private static IModelManager? _instance;

    /// <summary>The manager created by <see cref="Initialize"/>.</summary>
    /// <exception cref="InvalidOperationException">Not initialized.</exception>
    public static IModelManager Instance => Volatile.Read(ref _instance)
        ?? throw new InvalidOperationException("The global model manager is not initialized; call GlobalModelManager.Initialize(configPath) first.");

    /// <summary>True once <see cref="Initialize"/> has run and until <see cref="ShutdownAsync"/>.</summary>
    public static bool IsInitialized => Volatile.Read(ref _instance) is not null;

    /// <summary>Creates the manager from <paramref name="configPath"/>, registers backends through <paramref name="configure"/>, and loads <c>preload</c> models.</summary>
    /// <remarks>The guide's synchronous form blocks until preloading ends; prefer <see cref="InitializeAsync"/> where the caller can await.</remarks>
#pragma warning disable RS0030 // Banned API: the integration guide's synchronous initialize_model_manager (see remarks)
    public static IModelManager Initialize(string configPath, Action<ModelManagerBuilder>? configure = null) =>
        Task.Run(() => InitializeAsync(configPath, configure)).GetAwaiter().GetResult();
#pragma warning restore RS0030

    /// <inheritdoc cref="Initialize"/>
    public static async Task<IModelManager> InitializeAsync(string configPath, Action<ModelManagerBuilder>? configure = null, CancellationToken cancellationToken = default)
    {
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_instance is not null)
            {
                throw new InvalidOperationException("The global model manager is already initialized; call ShutdownAsync() first.");
            }

            var services = new ServiceCollection();
            var builder = services.AddModelManager(configPath);
            configure?.Invoke(builder);
            var provider = services.BuildServiceProvider();
            try
            {
                var manager = provider.GetRequiredService<DefaultModelManager>();
                await manager.PreloadAsync(cancellationToken).ConfigureAwait(false);

                _provider = provider;
                Volatile.Write(ref _instance, manager);
                return manager;
            }
            catch
            {
                await provider.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        finally
        {
            Gate.Release();
        }
    }

    /// <summary>Unloads everything and forgets the manager, so that <see cref="Initialize"/> may run again.</summary>
    public static async Task ShutdownAsync(CancellationToken cancellationToken = default)
    {
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_instance is { } manager)
            {
                await manager.ShutdownAsync(cancellationToken).ConfigureAwait(false);
                await _provider!.DisposeAsync().ConfigureAwait(false);
                _provider = null;
                Volatile.Write(ref _instance, null);
            }
        }
        finally
        {
            Gate.Release();
        }
    }
}
