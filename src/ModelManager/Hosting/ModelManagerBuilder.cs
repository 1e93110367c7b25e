using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ModelManager;

/// <summary>Returned by <c>AddModelManager</c>; backends extend it (<c>.AddLlamaSharp()</c>, <c>.AddFakeBackend()</c>).</summary>
public sealed class ModelManagerBuilder
{
    internal ModelManagerBuilder(IServiceCollection services)
    {
        Services = services;
    }

    /// <summary>The service collection the manager is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>Adds a health check for the manager: unhealthy when a preloaded model failed to load, degraded at ≥ 90% of the budget.</summary>
    public ModelManagerBuilder AddHealthCheck(string name = "modelmanager", IEnumerable<string>? tags = null)
    {
        Services.AddHealthChecks().AddCheck<ModelManagerHealthCheck>(name, tags: tags);
        return this;
    }

    /// <summary>Adds middleware to every keyed <see cref="IChatClient"/> the manager registers (one pipeline per key, built once).</summary>
    /// <param name="configure">Called with the key (an agent or model name) and a <see cref="ChatClientBuilder"/> over that key's
    /// model, e.g. <c>(key, chat) =&gt; chat.UseOpenTelemetry().UseLogging()</c>. Several calls apply in order.</param>
    /// <remarks><c>ILanguageModel.AsChatClient()</c> stays the bare client; the pipeline is what DI hands out.</remarks>
    public ModelManagerBuilder ConfigureChatClients(Action<string, ChatClientBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.AddSingleton(new ChatClientPipeline(configure));
        return this;
    }

    /// <summary>Adds middleware to every keyed <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> the manager registers (one pipeline per key, built once).</summary>
    /// <param name="configure">Called with the key (an agent or model name) and an <see cref="EmbeddingGeneratorBuilder{TInput, TEmbedding}"/> over
    /// that key's model, e.g. <c>(key, g) =&gt; g.UseOpenTelemetry().UseDistributedCache()</c>. Several calls apply in order.</param>
    /// <remarks><see cref="IModelManager.GetEmbeddingGenerator"/> stays the bare generator; the pipeline is what DI hands out.</remarks>
    public ModelManagerBuilder ConfigureEmbeddingGenerators(Action<string, EmbeddingGeneratorBuilder<string, Embedding<float>>> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        Services.AddSingleton(new EmbeddingGeneratorPipeline(configure));
        return this;
    }

    /// <summary>Registers a backend as a singleton; registering the same backend type twice has no effect.</summary>
    public ModelManagerBuilder AddBackend<TBackend>()
        where TBackend : class, IModelBackend
    {
        Services.TryAddSingleton<TBackend>();
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IModelBackend, TBackend>(sp => sp.GetRequiredService<TBackend>()));
        return this;
    }

    /// <summary>Registers a backend with its options: <paramref name="configure"/> applies to them, and <typeparamref name="TValidator"/> checks them at start-up.</summary>
    public ModelManagerBuilder AddBackend<TBackend, TOptions, TValidator>(Action<TOptions>? configure)
        where TBackend : class, IModelBackend
        where TOptions : class
        where TValidator : class, IValidateOptions<TOptions>
    {
        var options = Services.AddOptions<TOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TOptions>, TValidator>());
        return AddBackend<TBackend>();
    }
}
