using Microsoft.Extensions.Options;

namespace ModelManager;

/// <summary>Checks <see cref="OpenAIOptions"/> at start-up, reporting every problem at once.</summary>
internal sealed class OpenAIOptionsValidator : IValidateOptions<OpenAIOptions>
{
    private static readonly TimeSpan MaxDuration = TimeSpan.FromSeconds(OpenAIModelSettings.MaxTimeoutSeconds);

    public ValidateOptionsResult Validate(string? name, OpenAIOptions options)
    {
        var errors = new List<string>();
        Positive(options.DefaultTimeout, nameof(options.DefaultTimeout), errors);
        Positive(options.RetryBaseDelay, nameof(options.RetryBaseDelay), errors);
        Positive(options.MaxRetryDelay, nameof(options.MaxRetryDelay), errors);
        Positive(options.ReachabilityTimeout, nameof(options.ReachabilityTimeout), errors);
        if (options.BreakDuration < TimeSpan.FromMilliseconds(500) || options.BreakDuration > MaxDuration)
        {
            errors.Add($"OpenAIOptions.BreakDuration must be between 0.5 s and 1 day, got {options.BreakDuration}");
        }

        if (options.DefaultMaxRetries is < 0 or > OpenAIModelSettings.MaxRetriesLimit)
        {
            errors.Add($"OpenAIOptions.DefaultMaxRetries must be between 0 and {OpenAIModelSettings.MaxRetriesLimit}, got {options.DefaultMaxRetries}");
        }

        if (options.DefaultMaxTokens < 1)
        {
            errors.Add($"OpenAIOptions.DefaultMaxTokens must be at least 1, got {options.DefaultMaxTokens}");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Positive(TimeSpan value, string name, List<string> errors)
    {
        if (value <= TimeSpan.Zero || value > MaxDuration)
        {
            errors.Add($"OpenAIOptions.{name} must be more than 0 and at most 1 day, got {value}");
        }
    }
}
