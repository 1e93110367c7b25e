using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace ModelManager;

/// <summary>Registers the <c>huggingface</c> backend (ONNX Runtime GenAI).</summary>
public static class OnnxGenAIBuilderExtensions
{
    /// <summary>Adds type <c>huggingface</c> (alias <c>onnx</c>): model folders converted for ONNX Runtime GenAI, run on CPU or a configured execution provider.</summary>
    public static ModelManagerBuilder AddOnnxGenAI(this ModelManagerBuilder builder, Action<OnnxGenAIOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<OnnxGenAIOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        options.ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OnnxGenAIOptions>, OnnxGenAIOptionsValidator>());
        return builder.AddBackend<OnnxGenAIBackend>();
    }
}
