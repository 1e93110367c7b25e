using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ModelManager;

/// <summary>Registers the <c>openai</c> backend (OpenAI-compatible HTTP endpoints).</summary>
public static class OpenAIBuilderExtensions
{
    /// <summary>Adds type <c>openai</c>: models served by OpenAI-compatible endpoints (OpenAI, Ollama, llama.cpp's server, vLLM, ModelServer).</summary>
    public static ModelManagerBuilder AddOpenAI(this ModelManagerBuilder builder, Action<OpenAIBackendOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<OpenAIBackendOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OpenAIBackendOptions>, OpenAIBackendOptionsValidator>());
        return builder.AddBackend<OpenAIBackend>();
    }
}
