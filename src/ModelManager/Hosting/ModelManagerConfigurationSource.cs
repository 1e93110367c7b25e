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

    /// <summary>A token that fires when the source changes: the file is saved (watched through <paramref name="files"/>), or the configuration section reloads.</summary>
    /// <remarks><paramref name="files"/> returns null once the watcher is disposed; nothing is watched then.</remarks>
    public IChangeToken Watch(IConfiguration? appConfiguration, Func<string, PhysicalFileProvider?> files)
    {
        if (filePath is not null)
        {
            var full = ModelConfigurationLoader.Resolve(filePath).Full;
            var directory = Path.GetDirectoryName(full)!;
            return Directory.Exists(directory) && files(directory) is { } provider ? provider.Watch(Path.GetFileName(full)) : NullChangeToken.Singleton;
        }

        if (section is not null)
        {
            return section.GetReloadToken();
        }

        return configure is null && appConfiguration is not null
            ? appConfiguration.GetSection("ModelManager").GetReloadToken()
            : NullChangeToken.Singleton;
    }
}

/// <summary>Tells <see cref="IOptionsMonitor{TOptions}"/> when the manager's configuration source changed.</summary>
/// <remarks>Owns the file watcher (an inotify instance on Linux, a limited resource); the container disposes it with the manager.</remarks>
internal sealed class ModelManagerChangeTokenSource(ModelManagerConfigurationSource source, IConfiguration? appConfiguration = null)
    : IOptionsChangeTokenSource<ModelManagerOptions>, IDisposable
{
    private readonly Lock _lock = new();
    private PhysicalFileProvider? _files;
    private bool _disposed;

    public string Name => Options.DefaultName;

    public IChangeToken GetChangeToken() => source.Watch(appConfiguration, Files);

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _files?.Dispose();
            _files = null;
        }
    }

    private PhysicalFileProvider? Files(string directory)
    {
        lock (_lock)
        {
            // After disposal (a change that fired during shutdown re-registers), watch nothing rather than throw on a watcher thread.
            return _disposed ? null : _files ??= new PhysicalFileProvider(directory);
        }
    }
}

/// <summary>Applies the registered <see cref="ModelManagerConfigurationSource"/> to the options.</summary>
internal sealed class ModelManagerConfigureOptions(ModelManagerConfigurationSource source, IConfiguration? appConfiguration = null) : IConfigureOptions<ModelManagerOptions>
{
    public void Configure(ModelManagerOptions options) => source.Apply(options, appConfiguration);
}
