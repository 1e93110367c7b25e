using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;

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

    /// <summary>A token that fires when the source changes: the file is saved, or the configuration section reloads.</summary>
    public IChangeToken Watch(IConfiguration? appConfiguration)
    {
        if (filePath is not null)
        {
            var full = Path.GetFullPath(filePath);
            var directory = Path.GetDirectoryName(full)!;
            if (!Directory.Exists(directory))
            {
                return NullChangeToken.Singleton;
            }

            _files ??= new PhysicalFileProvider(directory);
            return _files.Watch(Path.GetFileName(full));
        }

        if (section is not null)
        {
            return section.GetReloadToken();
        }

        return configure is null && appConfiguration is not null
            ? appConfiguration.GetSection("ModelManager").GetReloadToken()
            : NullChangeToken.Singleton;
    }

    private PhysicalFileProvider? _files;
}

/// <summary>Tells <see cref="IOptionsMonitor{TOptions}"/> when the manager's configuration source changed.</summary>
internal sealed class ModelManagerChangeTokenSource(ModelManagerConfigurationSource source, IConfiguration? appConfiguration = null) : IOptionsChangeTokenSource<ModelManagerOptions>
{
    public string Name => Options.DefaultName;

    public IChangeToken GetChangeToken() => source.Watch(appConfiguration);
}

/// <summary>Applies the registered <see cref="ModelManagerConfigurationSource"/> to the options.</summary>
internal sealed class ModelManagerConfigureOptions(ModelManagerConfigurationSource source, IConfiguration? appConfiguration = null) : IConfigureOptions<ModelManagerOptions>
{
    public void Configure(ModelManagerOptions options) => source.Apply(options, appConfiguration);
}
