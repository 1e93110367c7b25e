using Microsoft.Extensions.Options;

namespace ModelManager;

/// <summary>Checks <see cref="OnnxGenAIOptions"/> at start-up, reporting every problem at once.</summary>
internal sealed class OnnxGenAIOptionsValidator : IValidateOptions<OnnxGenAIOptions>
{
    public ValidateOptionsResult Validate(string? name, OnnxGenAIOptions options)
    {
        var errors = new List<string>();
        if (options.DefaultParallel is < 1 or > OnnxGenAIModelSettings.MaxParallel)
        {
            errors.Add($"OnnxGenAIOptions.DefaultParallel must be between 1 and {OnnxGenAIModelSettings.MaxParallel}, got {options.DefaultParallel}");
        }

        if (options.DefaultMaxTokens < 1)
        {
            errors.Add($"OnnxGenAIOptions.DefaultMaxTokens must be at least 1, got {options.DefaultMaxTokens}");
        }

        if (options.DefaultProviders is null || options.DefaultProviders.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add("OnnxGenAIOptions.DefaultProviders must be a list of provider names (e.g. \"cuda\"), without empty entries");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
