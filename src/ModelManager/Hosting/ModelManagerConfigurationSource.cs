using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ModelManager;

/// <summary>Where the options come from; the last <c>AddModelManager</c> call wins, so calling it twice never doubles the models.</summary>
internal sealed class ModelManagerConfigurationSource(string? filePath, IConfiguration? section, Action<ModelManagerOptions>? configure)
{
    public void Apply(ModelManagerOptions options, IConfiguration? appConfiguration)
    {
        if (filePath is not null)
        {
            ModelConfigurationLoader.LoadFile(filePath, options);
        }
        else if (section is not null)
        {
            ModelConfigurationBinder.Bind(section, options);
        }
        else if (configure is null && appConfiguration is not null)
        {
            ModelConfigurationBinder.Bind(appConfiguration.GetSection("ModelManager"), options);
        }

        configure?.Invoke(options);
    }
}

/// <summary>Applies the registered <see cref="ModelManagerConfigurationSource"/> to the options.</summary>
internal sealed class ModelManagerConfigureOptions(ModelManagerConfigurationSource source, IConfiguration? appConfiguration = null) : IConfigureOptions<ModelManagerOptions>
{
    public void Configure(ModelManagerOptions options) => source.Apply(options, appConfiguration);
}
