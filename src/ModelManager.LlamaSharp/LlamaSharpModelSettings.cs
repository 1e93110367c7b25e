using LLama.Native;

namespace ModelManager;

/// <summary>One gguf model's backend keys, parsed and checked; <c>FlashAttention</c> null lets llama.cpp decide (<c>auto</c>: on where the device supports it, the CPU included).</summary>
internal sealed record LlamaSharpModelSettings(int ContextLength, int Parallel, int GpuLayers, int? Threads, LLamaLoadMode LoadMode, string? ChatTemplate,
    PromptCacheSettings PromptCache, bool HugePages = true, bool? FlashAttention = null)
{
    /// <summary>The default of <see cref="LlamaSharpOptions.DefaultParallel"/>.</summary>
    public const int DefaultParallel = 4;

    /// <summary>The highest <c>parallel</c> accepted.</summary>
    public const int MaxParallel = 256;

    /// <summary>The highest <c>threads</c> accepted.</summary>
    public const int MaxThreads = 1024;

    /// <summary>The most tokens of all sequences together (context_length × parallel) that one llama.cpp context can hold (2^31 - 1).</summary>
    public const long MaxTotalContext = int.MaxValue;

    /// <summary>The default of <see cref="LlamaSharpOptions.DefaultContextLength"/>, and the estimate's context when a file declares none.</summary>
    public const int DefaultContextLength = 4096;

    /// <summary>Whether llama.cpp runs flash attention as far as memory goes: <c>auto</c> turns it on for the CPU, so only <c>off</c> holds the attention scores.</summary>
    public bool FlashAttentionOn => FlashAttention != false;

    /// <summary>The model-level keys this backend reads besides the common ones.</summary>
    public static readonly string[] Keys = ["gpu_layers", "threads", "parallel", "load_mode", "chat_template", "prompt_cache", "huge_pages", "flash_attention"];

    private static readonly Dictionary<string, LLamaLoadMode> LoadModes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["none"] = LLamaLoadMode.None,
        ["read"] = LLamaLoadMode.None,
        ["mmap"] = LLamaLoadMode.MemoryMap,
        ["mlock"] = LLamaLoadMode.MemoryLock,
        ["mmap_mlock"] = LLamaLoadMode.MemoryMapAndLock,
        ["direct_io"] = LLamaLoadMode.DirectIO,
    };

    private static readonly Dictionary<string, bool?> FlashAttentionModes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["auto"] = null,
        ["on"] = true,
        ["off"] = false,
        ["true"] = true,
        ["false"] = false,
    };

    /// <summary>Reports every invalid key of <paramref name="model"/> to <paramref name="context"/>.</summary>
    public static void Validate(ModelDescriptor model, ModelValidationContext context)
    {
        if (string.IsNullOrWhiteSpace(model.Path))
        {
            context.AddError(model, "path", "a gguf model needs the path of its .gguf file");
        }
        else if (!File.Exists(model.Path))
        {
            context.AddWarning($"{model.ConfigPath}.path", $"'{model.Path}' does not exist (yet); loading '{model.Name}' will fail until it does");
        }
        else if (model.ContextLength is { } requested && TrainedContext(model.Path) is { } trained && requested > trained)
        {
            context.AddWarning($"{model.ConfigPath}.context_length",
                $"{requested} tokens per request is more than the {trained} model '{model.Name}' was trained on (its GGUF context_length); positions past that degrade its output");
        }

        if (model.GetInt32("gpu_layers") is < -1)
        {
            context.AddError(model, "gpu_layers", "must be -1 (all) or 0 or more");
        }

        if (model.GetInt32("threads") is < 1 or > MaxThreads)
        {
            context.AddError(model, "threads", $"must be between 1 and {MaxThreads}");
        }

        if (model.GetInt32("parallel") is < 1 or > MaxParallel)
        {
            context.AddError(model, "parallel", $"must be between 1 and {MaxParallel}");
        }
        else if (model.ContextLength is { } contextLength && (long)contextLength * (model.GetInt32("parallel") ?? DefaultParallel) > MaxTotalContext)
        {
            // llama.cpp's context size is a 32-bit count of tokens for all sequences together.
            context.AddError($"{model.ConfigPath}.context_length",
                $"{contextLength} tokens × parallel {model.GetInt32("parallel") ?? DefaultParallel} is more than the {MaxTotalContext} tokens one llama.cpp context can hold (model '{model.Name}')");
        }

        PromptCacheSettings.Validate(model, context);

        if (model.GetSetting("load_mode") is { } mode && !LoadModes.ContainsKey(mode) && !bool.TryParse(mode, out _))
        {
            context.AddError(model, "load_mode", $"'{mode}' is not one of {string.Join(", ", LoadModes.Keys)} (or true/false for mmap)");
        }

        if (model.GetSetting("huge_pages") is { } huge && !huge.Equals("auto", StringComparison.OrdinalIgnoreCase) && !huge.Equals("off", StringComparison.OrdinalIgnoreCase))
        {
            context.AddError(model, "huge_pages", $"'{huge}' is not auto or off");
        }

        if (model.GetSetting("flash_attention") is { } flash && !FlashAttentionModes.ContainsKey(flash))
        {
            context.AddError(model, "flash_attention", $"'{flash}' is not auto, on or off (or true/false)");
        }
    }

    /// <summary>The context the GGUF at <paramref name="path"/> was trained on, or null when it declares none or cannot be read (the load reports why).</summary>
    /// <remarks>Reads the header only, and only of a regular file: validation must not block on a FIFO or read a device.</remarks>
    private static long? TrainedContext(string path)
    {
        try
        {
            return GuardedFile.GetKind(path) == FileKind.Regular && GgufReader.Read(path).ContextLength is > 0 and var trained ? trained : null;
        }
        catch (Exception e) when (e is ModelFormatException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Resolves the settings, filling defaults from the model file's own metadata.</summary>
    public static LlamaSharpModelSettings From(ModelDescriptor model, GgufModelInfo info, LlamaSharpOptions options)
    {
        var trained = info.ContextLength > 0 ? (int)Math.Min(info.ContextLength, int.MaxValue) : options.DefaultContextLength;
        var context = model.ContextLength ?? Math.Min(trained, options.DefaultContextLength);
        var mode = model.GetSetting("load_mode") is { } m
            ? bool.TryParse(m, out var mmap) ? (mmap ? LLamaLoadMode.MemoryMap : LLamaLoadMode.None) : LoadModes[m]
            : LLamaLoadMode.None;
        return new LlamaSharpModelSettings(
            context,
            model.GetInt32("parallel") ?? options.DefaultParallel,
            model.GetInt32("gpu_layers") ?? 0,
            model.GetInt32("threads"),
            mode,
            model.GetSetting("chat_template"),
            PromptCacheSettings.From(model),
            !string.Equals(model.GetSetting("huge_pages"), "off", StringComparison.OrdinalIgnoreCase),
            model.GetSetting("flash_attention") is { } flash ? FlashAttentionModes[flash] : null);
    }
}
