using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using ModelManager;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the model manager in a service collection.</summary>
public static class ModelManagerServiceCollectionExtensions
{
    /// <summary>Adds the manager configured from the <c>ModelManager</c> section of the app's configuration.</summary>
    public static ModelManagerBuilder AddModelManager(this IServiceCollection services) =>
        services.AddModelManagerCore(new ModelManagerConfigurationSource(null, null, null));

    /// <summary>Adds the manager configured from a <c>config.json</c> file; relative model paths resolve against its folder.</summary>
    public static ModelManagerBuilder AddModelManager(this IServiceCollection services, string configPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(configPath);
        return services.AddModelManagerCore(new ModelManagerConfigurationSource(configPath, null, null));
    }

    /// <summary>Adds the manager configured from a configuration section holding the <c>config.json</c> schema.</summary>
    public static ModelManagerBuilder AddModelManager(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        return services.AddModelManagerCore(new ModelManagerConfigurationSource(null, section, null));
    }

    /// <summary>Adds the manager configured in code.</summary>
    public static ModelManagerBuilder AddModelManager(this IServiceCollection services, Action<ModelManagerOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddModelManagerCore(new ModelManagerConfigurationSource(null, null, configure));
    }

    private static ModelManagerBuilder AddModelManagerCore(this IServiceCollection services, ModelManagerConfigurationSource source)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddOptions();
        services.RemoveAll<ModelManagerConfigurationSource>();
        services.AddSingleton(source);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IConfigureOptions<ModelManagerOptions>, ModelManagerConfigureOptions>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOptionsChangeTokenSource<ModelManagerOptions>, ModelManagerChangeTokenSource>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<DefaultModelManager>(static sp =>
        {
            var monitor = sp.GetRequiredService<IOptionsMonitor<ModelManagerOptions>>();
            var manager = new DefaultModelManager(
                monitor.CurrentValue,
                sp.GetServices<IModelBackend>(),
                sp.GetService<TimeProvider>(),
                sp.GetService<ILoggerFactory>(),
                sp.GetService<System.Diagnostics.Metrics.IMeterFactory>());
            manager.WatchConfiguration(monitor);
            return manager;
        });
        services.TryAddSingleton<IModelManager>(static sp => sp.GetRequiredService<DefaultModelManager>());
        services.TryAddKeyedSingleton<ILanguageModel>(KeyedService.AnyKey, static (sp, key) =>
        {
            var name = key as string ?? throw new ArgumentException($"Model keys are strings; got {key?.GetType().Name ?? "null"}.", nameof(key));
            return sp.GetRequiredService<DefaultModelManager>().ResolveKeyed(name);
        });
        services.TryAddKeyedSingleton<IChatClient>(KeyedService.AnyKey, static (sp, key) =>
        {
            var client = sp.GetRequiredKeyedService<ILanguageModel>(key).AsChatClient();
            var pipelines = sp.GetServices<ChatClientPipeline>().ToArray();
            if (pipelines.Length == 0)
            {
                return client;
            }

            var builder = new ChatClientBuilder(client);
            foreach (var pipeline in pipelines)
            {
                pipeline.Configure((string)key!, builder);
            }

            return builder.Build(sp);
        });
        services.TryAddKeyedSingleton<IEmbeddingGenerator<string, Embedding<float>>>(KeyedService.AnyKey, static (sp, key) =>
        {
            var name = key as string ?? throw new ArgumentException($"Model keys are strings; got {key?.GetType().Name ?? "null"}.", nameof(key));
            var generator = sp.GetRequiredService<DefaultModelManager>().GetEmbeddingGenerator(name);
            var pipelines = sp.GetServices<EmbeddingGeneratorPipeline>().ToArray();
            if (pipelines.Length == 0)
            {
                return generator;
            }

            var builder = new EmbeddingGeneratorBuilder<string, Embedding<float>>(generator);
            foreach (var pipeline in pipelines)
            {
                pipeline.Configure(name, builder);
            }

            return builder.Build(sp);
        });
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ModelManagerHostedService>());
        return new ModelManagerBuilder(services);
    }
}
