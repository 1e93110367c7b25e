namespace ModelManager;

/// <summary>How a huggingface model turns chat messages into a prompt.</summary>
internal enum OnnxChatFormat
{
    /// <summary>The chat template in the model's tokenizer_config.json.</summary>
    TokenizerTemplate,

    /// <summary>The model's configured <c>chat_template</c>.</summary>
    ConfiguredTemplate,

    /// <summary>The documented plain format: <c>System: …\nUser: …\nAssistant:</c>.</summary>
    Plain,
}
