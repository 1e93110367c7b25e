using System.Globalization;

namespace ModelManager;

/// <summary>A gguf model's <c>prompt_cache</c> key: how many finished sequences it keeps, in how much memory, and where they go when it unloads.</summary>
/// <remarks>
/// Forms: <c>0</c> or <c>false</c> (off), a number (that many sequences), <c>true</c> (the defaults), or an object
/// <c>{ "sequences": 16, "memory_mb": 512, "spill_path": "cache/kv", "spill_mb": 1024 }</c>. Without <c>spill_path</c>
/// nothing is spilled. A relative <c>spill_path</c> resolves against the working directory.
/// </remarks>
/// <param name="Sequences">Finished sequences kept; 0 turns the cache off.</param>
/// <param name="MemoryBytes">The most bytes the kept sequences hold (charged to the budget as they fill it).</param>
/// <param name="SpillPath">The folder cached sequences are saved to on unload and restored from on load, or null.</param>
/// <param name="SpillBytes">The cap on the folder's spill files, all models together.</param>
internal sealed record PromptCacheSettings(int Sequences, long MemoryBytes, string? SpillPath, long SpillBytes)
{
    /// <summary>Sequences kept when the key is absent or <c>true</c>.</summary>
    public const int DefaultSequences = 16;

    /// <summary>The cache's memory when <c>memory_mb</c> is absent.</summary>
    public const int DefaultMemoryMb = 512;

    /// <summary>The spill folder's cap when <c>spill_mb</c> is absent.</summary>
    public const int DefaultSpillMb = 1024;

    private static readonly string[] SubKeys = ["sequences", "memory_mb", "spill_path", "spill_mb"];

    public bool Enabled => Sequences > 0 && MemoryBytes > 0;

    public static PromptCacheSettings From(ModelDescriptor model)
    {
        var sequences = model.GetSetting("prompt_cache") switch
        {
            null => model.GetInt32("prompt_cache:sequences") ?? DefaultSequences,
            var v when bool.TryParse(v, out var on) => on ? DefaultSequences : 0,
            _ => model.GetInt32("prompt_cache")!.Value,
        };
        var spill = model.GetSetting("prompt_cache:spill_path");
        return new PromptCacheSettings(
            sequences,
            (model.GetInt64("prompt_cache:memory_mb") ?? DefaultMemoryMb) * 1024 * 1024,
            spill is null ? null : Path.GetFullPath(spill),
            (model.GetInt64("prompt_cache:spill_mb") ?? DefaultSpillMb) * 1024 * 1024);
    }

    public static void Validate(ModelDescriptor model, ModelValidationContext context)
    {
        var scalar = model.GetSetting("prompt_cache");
        if (scalar is not null && !bool.TryParse(scalar, out _) && !int.TryParse(scalar, NumberStyles.Integer, CultureInfo.InvariantCulture, out _))
        {
            context.AddError(model, "prompt_cache", $"'{scalar}' must be a number of sequences, true, false, or an object of {string.Join(", ", SubKeys)}");
            return;
        }

        foreach (var key in model.Settings.Keys.Where(k => k.StartsWith("prompt_cache:", StringComparison.OrdinalIgnoreCase)))
        {
            if (!SubKeys.Contains(key["prompt_cache:".Length..], StringComparer.Ordinal))
            {
                context.AddError(model, key, $"unknown key; prompt_cache takes {string.Join(", ", SubKeys)}");
            }
        }

        PromptCacheSettings settings;
        try
        {
            settings = From(model);
        }
        catch (Exception e) when (e is FormatException or ArgumentException or NotSupportedException or PathTooLongException or OverflowException)
        {
            context.AddError(model, "prompt_cache", e.Message);
            return;
        }

        if (settings.Sequences < 0)
        {
            context.AddError(model, scalar is null ? "prompt_cache:sequences" : "prompt_cache", "must be 0 (off) or more");
        }

        foreach (var key in new[] { "prompt_cache:memory_mb", "prompt_cache:spill_mb" })
        {
            if (model.GetInt64(key) is < 1 or > int.MaxValue)
            {
                context.AddError(model, key, $"must be between 1 and {int.MaxValue}");
            }
        }

        if (model.Settings.ContainsKey("prompt_cache:spill_path") && string.IsNullOrWhiteSpace(model.GetSetting("prompt_cache:spill_path")))
        {
            context.AddError(model, "prompt_cache:spill_path", "must be a folder path");
        }
    }
}
