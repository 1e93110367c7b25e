namespace ModelManager;

/// <summary>One huggingface model's backend keys, parsed and checked against its folder.</summary>
/// <param name="ContextLength">Tokens one request may hold (prompt plus generated): the configured <c>context_length</c>, else the model's own.</param>
/// <param name="Parallel">Most concurrent generations.</param>
/// <param name="Providers">Execution providers to append, in order; empty means CPU.</param>
/// <param name="ChatTemplate">A configured chat template, or null.</param>
/// <param name="DefaultMaxTokens">Most tokens per call when no <c>max_tokens</c> is set.</param>
internal sealed record OnnxGenAIModelSettings(int ContextLength, int Parallel, IReadOnlyList<string> Providers, string? ChatTemplate, int DefaultMaxTokens)
{
    /// <summary>The default of <see cref="OnnxGenAIOptions.DefaultParallel"/>.</summary>
    public const int DefaultParallel = 4;

    /// <summary>The highest <c>parallel</c> accepted.</summary>
    public const int MaxParallel = 256;

    /// <summary>The model-level keys this backend reads besides the common ones.</summary>
    public static readonly string[] Keys = ["providers", "parallel", "chat_template"];

    /// <summary>Reports every invalid key of <paramref name="model"/> to <paramref name="context"/>; never throws for a broken folder.</summary>
    public static void Validate(ModelDescriptor model, ModelValidationContext context)
    {
        if (string.IsNullOrWhiteSpace(model.Path))
        {
            context.AddError(model, "path", $"a {model.Type} model needs the path of its model folder ({OnnxModelFolder.ConfigFileName}, the .onnx file(s), tokenizer.json, tokenizer_config.json)");
        }
        else if (!Directory.Exists(model.Path))
        {
            context.AddWarning($"{model.ConfigPath}.path", File.Exists(model.Path)
                ? $"'{model.Path}' is a file; a {model.Type} model's path is the folder holding {OnnxModelFolder.ConfigFileName}"
                : $"'{model.Path}' does not exist (yet); loading '{model.Name}' will fail until it does");
        }
        else
        {
            try
            {
                var folder = OnnxModelFolder.Read(model);
                if (model.ContextLength is { } asked && asked > folder.ContextLength)
                {
                    context.AddError(model, "context_length", ContextTooLong(model, asked, folder.ContextLength));
                }
            }
            catch (ModelFormatException e)
            {
                context.AddWarning($"{model.ConfigPath}.path", $"{e.Message}; loading '{model.Name}' will fail until this is fixed");
            }
        }

        if (model.GetInt32("parallel") is < 1 or > MaxParallel)
        {
            context.AddError(model, "parallel", $"must be between 1 and {MaxParallel}");
        }

        var providers = model.GetList("providers");
        for (var i = 0; i < providers.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(providers[i]))
            {
                context.AddError($"{model.ConfigPath}.providers[{i}]", "must name an execution provider, e.g. \"cuda\"");
            }
        }

        if (model.Settings.TryGetValue("chat_template", out var template) && template is not null && string.IsNullOrWhiteSpace(template))
        {
            context.AddError(model, "chat_template", "must not be empty; remove it to use the tokenizer's template or the plain format");
        }
    }

    /// <summary>Resolves the settings, filling defaults from the folder and the process-wide options.</summary>
    /// <exception cref="ModelLoadException">The configured context is longer than the model's own.</exception>
    public static OnnxGenAIModelSettings From(ModelDescriptor model, OnnxModelFolder folder, OnnxGenAIOptions options)
    {
        var context = model.ContextLength ?? folder.ContextLength;
        if (context > folder.ContextLength)
        {
            throw new ModelLoadException(model.Name, $"{model.ConfigPath}.context_length: {ContextTooLong(model, context, folder.ContextLength)}");
        }

        var providers = model.GetList("providers");
        return new OnnxGenAIModelSettings(
            context,
            model.GetInt32("parallel") ?? options.DefaultParallel,
            providers.Count > 0 ? providers : options.DefaultProviders.ToArray(),
            model.GetSetting("chat_template"),
            options.DefaultMaxTokens);
    }

    private static string ContextTooLong(ModelDescriptor model, int asked, int own) =>
        $"{asked} is more than model '{model.Name}' supports: its {OnnxModelFolder.ConfigFileName} has context_length {own}; set context_length to {own} or less, or remove it to use {own}";
}
