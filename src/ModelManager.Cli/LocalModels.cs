using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.Cli;

/// <summary>
/// The library's own configuration reader, validator and backends, without a running manager: what <c>estimate</c>,
/// <c>inspect</c> and <c>validate</c> work on, so that the tool says what the library would.
/// </summary>
internal sealed class LocalModels : IAsyncDisposable
{
    private readonly ServiceProvider _services;

    public LocalModels()
    {
        // The backends as AddModelManager registers them; the manager itself is never resolved, so nothing loads.
        var services = new ServiceCollection();
        services.AddModelManager(_ => { }).AddLlamaSharp(o => o.RouteNativeLog = false).AddOnnxGenAI().AddOpenAI();
        _services = services.BuildServiceProvider();
        var byType = new Dictionary<string, IModelBackend>(StringComparer.OrdinalIgnoreCase);
        foreach (var backend in _services.GetServices<IModelBackend>())
        {
            foreach (var type in backend.Types)
            {
                byType[type] = backend;
            }
        }

        Backends = byType;
    }

    /// <summary>The registered backends by config <c>type</c>.</summary>
    public IReadOnlyDictionary<string, IModelBackend> Backends { get; }

    /// <summary>The budget a config without <c>max_memory_mb</c> gets on this machine.</summary>
    public static long DefaultLimitBytes => ModelConfigurationValidator.DefaultLimitBytes();

    /// <summary>Reads a config file as the manager does; problems reading it end up in the options' bind errors.</summary>
    public static ModelManagerOptions ReadConfig(string path)
    {
        var options = new ModelManagerOptions();
        ModelConfigurationLoader.LoadFile(path, options);
        return options;
    }

    /// <summary>Validates as the manager's constructor does (<paramref name="checkPreloadFit"/> on for <c>validate</c>).</summary>
    /// <exception cref="ModelConfigurationException">Every error, with the warnings found beside them.</exception>
    public ValidatedConfiguration Validate(ModelManagerOptions options, bool checkPreloadFit = true) =>
        ModelConfigurationValidator.Validate(options, Backends, checkPreloadFit);

    /// <summary>A one-model configuration for a bare model path, validated, so that its settings resolve as a config's would.</summary>
    /// <exception cref="ModelConfigurationException">The path, type or settings are invalid.</exception>
    public ModelDescriptor Describe(string path, string? type, int? contextLength, int? parallel)
    {
        var full = Path.GetFullPath(path);
        var resolvedType = type ?? GuessType(full)
            ?? throw new ModelConfigurationException([$"{full}: cannot tell the model type from the path; pass --type gguf or --type huggingface"]);
        var model = new ModelDefinition { Name = NameFor(full), Type = resolvedType, Path = full, ContextLength = contextLength };
        if (parallel is { } p)
        {
            model.Settings["parallel"] = p.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var options = new ModelManagerOptions { Source = full, Models = { model } };
        return Validate(options, checkPreloadFit: false).Models[0];
    }

    /// <summary>The inspector of <paramref name="model"/>'s backend.</summary>
    /// <exception cref="NotSupportedException">The backend cannot read the model's files (a remote endpoint).</exception>
    public IModelInspector InspectorFor(ModelDescriptor model) =>
        Backends[model.Type] as IModelInspector
        ?? throw new NotSupportedException($"model '{model.Name}' (type {model.Type}) has no files to inspect or size here: it runs elsewhere");

    /// <summary><c>gguf</c> for a .gguf file, <c>huggingface</c> for a folder; null when the path says neither.</summary>
    public static string? GuessType(string path) =>
        Directory.Exists(path) ? "huggingface"
        : path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) ? "gguf"
        : null;

    public ValueTask DisposeAsync() => _services.DisposeAsync();

    /// <summary>A model name from the file or folder name, in the characters config names allow.</summary>
    private static string NameFor(string path)
    {
        var stem = Path.GetFileNameWithoutExtension(Path.TrimEndingDirectorySeparator(path));
        var name = new string([.. stem.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '-')]).Trim('.');
        return name.Length > 0 ? name : "model";
    }
}
