using System.Text.RegularExpressions;
using Microsoft.Extensions.AI;

namespace ModelManager;

/// <summary>A model family's tool-call prompt format: how tools and calls are rendered into the prompt, constrained by grammar and parsed back.</summary>
/// <remarks>Instances are immutable and thread-safe.</remarks>
internal abstract partial class ToolCallFormat
{
    /// <summary>The Qwen2.5 default system prompt, which its template writes when the conversation has none.</summary>
    private const string QwenDefaultSystem = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

    /// <summary>The family's name: "hermes", "llama3", "mistral" or "generic".</summary>
    public abstract string Name { get; }

    /// <summary>The text that begins a call in the output; a lazy grammar's trigger and where streamed text is held back.</summary>
    public abstract string Trigger { get; }

    /// <summary>Picks the family from the GGUF chat template (null when the model has none).</summary>
    /// <param name="chatTemplate">The template text (<c>tokenizer.chat_template</c>), or null.</param>
    /// <param name="bosToken">The model's beginning-of-sequence token text, for templates that write it.</param>
    /// <param name="eosToken">The model's end-of-sequence token text, for templates that write it.</param>
    /// <param name="timeProvider">The clock for templates that write today's date (Llama 3.x); null for the system clock.</param>
    public static ToolCallFormat Detect(string? chatTemplate, string bosToken, string eosToken, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(bosToken);
        ArgumentNullException.ThrowIfNull(eosToken);
        if (string.IsNullOrEmpty(chatTemplate))
        {
            return new GenericToolCallFormat();
        }

        if (chatTemplate.Contains("[TOOL_CALLS]", StringComparison.Ordinal) || chatTemplate.Contains("[AVAILABLE_TOOLS]", StringComparison.Ordinal))
        {
            return new MistralToolCallFormat(bosToken, eosToken);
        }

        if (chatTemplate.Contains("<tool_call>", StringComparison.Ordinal) && chatTemplate.Contains("tools", StringComparison.Ordinal))
        {
            return new HermesToolCallFormat(chatTemplate.Contains(QwenDefaultSystem, StringComparison.Ordinal) ? QwenDefaultSystem : null);
        }

        if (chatTemplate.Contains("<|start_header_id|>", StringComparison.Ordinal)
            && (chatTemplate.Contains("<|python_tag|>", StringComparison.Ordinal) || chatTemplate.Contains("ipython", StringComparison.Ordinal)))
        {
            return new Llama3ToolCallFormat(bosToken, timeProvider ?? TimeProvider.System, FixedDate(chatTemplate));
        }

        return new GenericToolCallFormat();
    }

    /// <summary>The date a Llama 3.x template writes when it does not ask for today's (3.1 and 3.3 set <c>date_string</c> to "26 Jul 2024" unless given one), or null.</summary>
    private static string? FixedDate(string chatTemplate)
    {
        if (chatTemplate.Contains("strftime_now", StringComparison.Ordinal))
        {
            return null;
        }

        var match = DateString().Match(chatTemplate);
        return match.Success ? match.Groups[1].Value : null;
    }

    [GeneratedRegex("set\\s+date_string\\s*=\\s*\"([^\"]*)\"", RegexOptions.CultureInvariant, 1000)]
    private static partial Regex DateString();

    /// <summary>The whole prompt for <paramref name="messages"/> and <paramref name="tools"/>, ending with the assistant's generation prompt where the template writes one.</summary>
    /// <param name="messages">Text, assistant <see cref="FunctionCallContent"/> and <see cref="FunctionResultContent"/> messages.</param>
    /// <param name="tools">The offered tools; may be empty (a history with calls is still rendered).</param>
    /// <param name="renderPlain">The model's non-tool rendering of text-only messages (used by the generic format).</param>
    /// <exception cref="ArgumentException">The conversation breaks a rule of the template (the message is the template's).</exception>
    /// <exception cref="NotSupportedException">The template cannot render the conversation (e.g. parallel calls for Llama 3.x).</exception>
    public abstract string Render(IReadOnlyList<ChatMessage> messages, IReadOnlyList<AIFunctionDeclaration> tools, Func<IReadOnlyList<ChatMessage>, string> renderPlain);

    /// <summary>A complete GBNF grammar (root rule <c>root</c>) accepting one call (<paramref name="single"/>) or one to <see cref="ToolCallGrammar.MaxCalls"/> calls of <paramref name="tools"/>, and nothing after them.</summary>
    /// <exception cref="ArgumentException">No tools, duplicate names, or a malformed parameters schema.</exception>
    /// <exception cref="NotSupportedException">A tool's parameters schema cannot be enforced; the message names the tool and the JSON path.</exception>
    public abstract string CallGrammar(IReadOnlyList<AIFunctionDeclaration> tools, bool single);

    /// <summary>The grammar for a llama.cpp lazy grammar, applied from <see cref="Trigger"/> on: every format's call grammar accepts text that starts with its trigger.</summary>
    /// <exception cref="ArgumentException">As <see cref="CallGrammar"/>.</exception>
    /// <exception cref="NotSupportedException">As <see cref="CallGrammar"/>.</exception>
    public virtual string TriggeredGrammar(IReadOnlyList<AIFunctionDeclaration> tools, bool single) => CallGrammar(tools, single);

    /// <summary>Splits <paramref name="output"/> into its text and its calls; malformed call text stays text, and this never throws on content.</summary>
    public abstract ParsedToolOutput Parse(string output);
}
