namespace ModelManager;

/// <summary>Process-wide settings of the <c>openai</c> backend; per-model settings live in the model's config entry.</summary>
public sealed class OpenAIOptions
{
    /// <summary>How long one attempt on one endpoint may wait for the response to start, and the longest silence inside a streamed response, when a model sets no <c>timeout_seconds</c>. Default 100 s.</summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromSeconds(100);

    /// <summary>Most tokens per call when neither the call nor the model's <c>parameters</c> set <c>max_tokens</c>. Default 256.</summary>
    public int DefaultMaxTokens { get; set; } = GenerationDefaults.MaxTokens;

    /// <summary>Retries of a transient failure on one endpoint before failing over, when a model sets no <c>max_retries</c>. Default 2.</summary>
    public int DefaultMaxRetries { get; set; } = 2;

    /// <summary>The delay before the first retry; each further retry doubles it, with jitter. Default 0.5 s.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The longest delay between two retries, including one a server asks for with <c>Retry-After</c>. Default 10 s.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long an endpoint whose attempts keep failing is skipped (its circuit stays open) before it is tried again. Default 30 s.</summary>
    public TimeSpan BreakDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one attempt of the load-time reachability check (<c>GET {endpoint}/models</c>) may take. Default 10 s.</summary>
    public TimeSpan ReachabilityTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
