using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager;

// Chat formatting: the configured template, the tokenizer's, or the plain format (OnnxChatFormat).
internal sealed partial class OnnxGenAIModel
{
    private const string EmptyTemplateMessage = "Empty chat template";
    private static readonly string[] PlainStops = ["\nUser:", "\nSystem:"];

    public async IAsyncEnumerable<GenerationUpdate> ChatAsync(IReadOnlyList<ChatMessage> messages, GenerationOptions options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (messages.Any(m => m.Contents.Any(c => c is FunctionCallContent or FunctionResultContent)))
        {
            // The chat template sees text only; dropping the calls and results would change the conversation silently.
            throw new NotSupportedException(
                $"Model '{_model.Name}' (type huggingface) cannot render tool calls or tool results in a conversation: tool calls are supported on gguf and openai models.");
        }

        var prompt = FormatChat(messages);
        if (ChatFormat == OnnxChatFormat.Plain)
        {
            options = options with { StopSequences = [.. options.StopSequences ?? [], .. PlainStops] };
        }

        // The role stops end the reply where the model starts the next turn; the outcome then says StopSequence.
        var ids = Encode(prompt);
        await foreach (var update in GenerateTextAsync(ids, options, cancellationToken).ConfigureAwait(false))
        {
            yield return update;
        }
    }

    /// <summary>The chat prompt the model would see for <paramref name="messages"/>, for tests and diagnostics.</summary>
    internal string FormatChat(IReadOnlyList<ChatMessage> messages) => ChatFormat == OnnxChatFormat.Plain
        ? string.Concat(messages.Select(m => $"{Capitalize(m.Role.Value)}: {m.Text}\n")) + "Assistant:"
        : ApplyTemplate(ChatFormat == OnnxChatFormat.ConfiguredTemplate ? _settings.ChatTemplate : null, ToJson(messages));

    private string ApplyTemplate(string? template, string messagesJson)
    {
        Enter();
        try
        {
            // Only Encode is documented as safe to call concurrently; templating is rare and quick, so serialise it.
            lock (_templateGate)
            {
                return _tokenizer.ApplyChatTemplate(template!, messagesJson, null!, true);
            }
        }
        catch (OnnxRuntimeGenAIException e)
        {
            throw new InvalidOperationException($"The chat template of model '{_model.Name}' failed: {e.Message}", e);
        }
        finally
        {
            Exit();
        }
    }

    private static OnnxChatFormat ResolveChatFormat(ModelDescriptor model, OnnxGenAIModelSettings settings, Tokenizer tokenizer, ILogger logger)
    {
        var probe = ToJson([new ChatMessage(ChatRole.System, "s"), new ChatMessage(ChatRole.User, "u")]);
        if (settings.ChatTemplate is { } configured)
        {
            // A configured template overrides the tokenizer's, as in the gguf backend; a broken one fails the load.
            try
            {
                tokenizer.ApplyChatTemplate(configured, probe, null!, true);
                return OnnxChatFormat.ConfiguredTemplate;
            }
            catch (OnnxRuntimeGenAIException e)
            {
                throw new ModelLoadException(model.Name, $"{model.ConfigPath}.chat_template of model '{model.Name}' cannot be applied: {e.Message}", e);
            }
        }

        try
        {
            tokenizer.ApplyChatTemplate(null!, probe, null!, true);
            return OnnxChatFormat.TokenizerTemplate;
        }
        catch (OnnxRuntimeGenAIException e)
        {
            // gpt2-style tokenizers have no template: ORT says "Empty chat template." and the plain format is the documented answer.
            if (!e.Message.Contains(EmptyTemplateMessage, StringComparison.OrdinalIgnoreCase))
            {
                OnnxGenAILog.TokenizerTemplateUnusable(logger, model.Name, e.Message);
            }

            return OnnxChatFormat.Plain;
        }
    }

    private static string ToJson(IEnumerable<ChatMessage> messages)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            foreach (var m in messages)
            {
                json.WriteStartObject();
                json.WriteString("role", m.Role.Value);
                json.WriteString("content", m.Text);
                json.WriteEndObject();
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string Capitalize(string role) => role.Length == 0 ? role : char.ToUpperInvariant(role[0]) + role[1..];
}
