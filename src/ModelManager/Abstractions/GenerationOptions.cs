using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>Generation settings: a model's configured <c>parameters</c>, and per-call overrides where a null property takes the model's value.</summary>
/// <remarks>A value: two options are equal when every setting, stop sequences included, is equal. Copy with <c>with</c>.</remarks>
public sealed record GenerationOptions
{
    /// <summary>Most tokens to generate (config <c>max_tokens</c>). Default: <see cref="GenerationDefaults.MaxTokens"/>.</summary>
    /// <remarks>
    /// A call that constrains its whole output (a JSON <see cref="ResponseFormat"/>, or a required tool call) ends when the value is
    /// complete: the configured <c>max_tokens</c> does not cut it, only this call's own value or the context does.
    /// </remarks>
    public int? MaxTokens { get; set; }

    /// <summary>Sampling temperature (config <c>temperature</c>); 0 means greedy. Default: the backend's.</summary>
    public double? Temperature { get; set; }

    /// <summary>Whether to sample (config <c>do_sample</c>); false means greedy decoding. Default: sample when temperature &gt; 0.</summary>
    public bool? DoSample { get; set; }

    /// <summary>Nucleus sampling threshold (config <c>top_p</c>). Default: the backend's.</summary>
    public double? TopP { get; set; }

    /// <summary>Top-k sampling cut-off (config <c>top_k</c>). Default: the backend's.</summary>
    public int? TopK { get; set; }

    /// <summary>Random seed for reproducible sampling (config <c>seed</c>). Default: random.</summary>
    public long? Seed { get; set; }

    /// <summary>Texts that end generation when produced (config <c>stop</c>); the stop text itself is not returned. Default none.</summary>
    public IList<string>? StopSequences { get; set; }

    /// <summary>Per call: the form the output must take: text (null), any JSON object (<see cref="ChatResponseFormat.Json"/>), or JSON matching a schema. Never configured.</summary>
    /// <remarks>A local backend enforces it while decoding (the output cannot violate it); a backend that cannot enforce it throws <see cref="NotSupportedException"/>.</remarks>
    public ChatResponseFormat? ResponseFormat { get; set; }

    /// <summary>Per call, chat only: the tools the model may call; calls come back as <see cref="GenerationUpdate.ToolCall"/> updates. Never configured.</summary>
    public IList<AITool>? Tools { get; set; }

    /// <summary>Per call, chat only: whether the model must call a tool (null or <see cref="ChatToolMode.Auto"/>: its choice; <see cref="ChatToolMode.None"/>: tools are not offered). Never configured.</summary>
    public ChatToolMode? ToolMode { get; set; }

    /// <summary>Per call, chat only: false when the model may make at most one tool call per response (null or true: any number). Never configured.</summary>
    public bool? AllowMultipleToolCalls { get; set; }

    /// <summary>Per call: the caller's id for the conversation (<c>ChatOptions.ConversationId</c>), a hint for a prompt cache; never configured.</summary>
    /// <remarks>
    /// The manager keeps no history: the call still sends the whole conversation. The gguf prompt cache matches prompts by
    /// their tokens anyway; the id breaks ties between equally long cached prefixes and keeps one cached sequence per conversation.
    /// </remarks>
    public string? ConversationId { get; set; }

    /// <summary>True when the call asks for more than text: a JSON response format, or tools it does not switch off.</summary>
    public bool IsStructured => ResponseFormat is not null and not ChatResponseFormatText || OffersTools;

    /// <summary>True when tools are offered to the model: there are some, and <see cref="ToolMode"/> is not <see cref="ChatToolMode.None"/>.</summary>
    public bool OffersTools => Tools is { Count: > 0 } && ToolMode is not NoneChatToolMode;

    /// <summary>True when the whole output is one constrained value: a JSON response format, or a required call to an offered tool.</summary>
    /// <remarks>Such a value ends when it is complete: with <see cref="MaxTokens"/> unset, backends bound it by the context, not by a default count.</remarks>
    public bool ConstrainsWholeOutput => ResponseFormat is ChatResponseFormatJson || OffersTools && ToolMode is RequiredChatToolMode;

    /// <summary>True when decoding must be greedy: <see cref="DoSample"/> is false, or the temperature is 0.</summary>
    public bool IsGreedy => DoSample == false || Temperature is <= 0;

    /// <summary>Returns a copy in which every unset property takes the value from <paramref name="defaults"/>.</summary>
    public GenerationOptions WithDefaults(GenerationOptions? defaults)
    {
        if (defaults is null)
        {
            return this;
        }

        return new GenerationOptions
        {
            MaxTokens = MaxTokens ?? defaults.MaxTokens,
            Temperature = Temperature ?? defaults.Temperature,
            DoSample = DoSample ?? (Temperature is > 0 ? true : defaults.DoSample),
            TopP = TopP ?? defaults.TopP,
            TopK = TopK ?? defaults.TopK,
            Seed = Seed ?? defaults.Seed,
            StopSequences = StopSequences ?? defaults.StopSequences,
            ResponseFormat = ResponseFormat,
            Tools = Tools,
            ToolMode = ToolMode,
            AllowMultipleToolCalls = AllowMultipleToolCalls,
            ConversationId = ConversationId,
        };
    }

    /// <summary>The configured form: <c>do_sample</c> follows the temperature when unset, and an empty stop list is none.</summary>
    internal GenerationOptions Normalized() => this with
    {
        DoSample = DoSample ?? (Temperature is { } t ? t > 0 : null),
        StopSequences = StopSequences is { Count: > 0 } stops ? stops.ToArray() : null,
    };

    /// <inheritdoc />
    public bool Equals(GenerationOptions? other) =>
        other is not null
        && MaxTokens == other.MaxTokens
        && Temperature.Equals(other.Temperature)
        && DoSample == other.DoSample
        && TopP.Equals(other.TopP)
        && TopK == other.TopK
        && Seed == other.Seed
        && (StopSequences ?? []).SequenceEqual(other.StopSequences ?? [])
        && Equals(ResponseFormat, other.ResponseFormat)
        && ReferenceEquals(Tools, other.Tools)
        && Equals(ToolMode, other.ToolMode)
        && AllowMultipleToolCalls == other.AllowMultipleToolCalls
        && ConversationId == other.ConversationId;

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(MaxTokens, Temperature, DoSample, TopP, TopK, Seed, StopSequences?.Count ?? 0);

    /// <inheritdoc />
    public override string ToString() => string.Create(System.Globalization.CultureInfo.InvariantCulture,
        $"max_tokens={MaxTokens} temperature={Temperature} do_sample={DoSample} top_p={TopP} top_k={TopK} seed={Seed} stop={StopSequences?.Count ?? 0} response_format={ResponseFormat?.GetType().Name} tools={Tools?.Count ?? 0} tool_mode={ToolMode}");
}
