using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ModelManager;

/// <summary>Checks <see cref="LlamaSharpOptions"/> at start-up, reporting every problem at once.</summary>
internal sealed class LlamaSharpOptionsValidator : IValidateOptions<LlamaSharpOptions>
{
    public ValidateOptionsResult Validate(string? name, LlamaSharpOptions options)
    {
        var errors = new List<string>();
        if (options.DefaultParallel is < 1 or > LlamaSharpModelSettings.MaxParallel)
        {
            errors.Add($"LlamaSharpOptions.DefaultParallel must be between 1 and {LlamaSharpModelSettings.MaxParallel}, got {options.DefaultParallel}");
        }

        if (options.DefaultContextLength < 1)
        {
            errors.Add($"LlamaSharpOptions.DefaultContextLength must be at least 1, got {options.DefaultContextLength}");
        }

        if (!Enum.IsDefined(options.NativeLogLevel))
        {
            errors.Add($"LlamaSharpOptions.NativeLogLevel must be one of {string.Join(", ", Enum.GetNames<LogLevel>())}, got {options.NativeLogLevel}");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
