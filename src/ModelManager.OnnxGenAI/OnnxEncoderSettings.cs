namespace ModelManager;

/// <summary>One ONNX encoder's backend keys, parsed and checked against its folder.</summary>
/// <param name="ContextLength">Word pieces per text, <c>[CLS]</c> and <c>[SEP]</c> included (<c>context_length</c>; default the folder's <c>max_seq_length</c>, else 256).</param>
/// <param name="BatchSize">The most texts per ONNX Runtime run (<c>batch_size</c>, default 64); a larger call runs as several batches.</param>
/// <param name="BatchTokens">The most padded tokens per run (<c>batch_tokens</c>, default 4096: 16 texts of 256 tokens), which bounds the activations.</param>
/// <param name="Threads">ONNX Runtime's intra-op threads (<c>threads</c>), or null for its default (one per physical core).</param>
internal sealed record OnnxEncoderSettings(int ContextLength, int BatchSize, int BatchTokens, int? Threads)
{
    /// <summary>The model-level keys an encoder reads besides the common ones.</summary>
    public static readonly string[] Keys = ["batch_size", "batch_tokens", "threads"];

    /// <summary>Reports every invalid key of an encoder model to <paramref name="context"/>; never throws for a broken folder.</summary>
    public static void Validate(ModelDescriptor model, ModelValidationContext context)
    {
        if (model.ContextLength is < 3 or > OnnxEncoderFolder.MaxContextLength)
        {
            context.AddError(model, "context_length", $"must be between 3 ([CLS], one word piece, [SEP]) and {OnnxEncoderFolder.MaxContextLength} (BERT-class position embeddings) for an ONNX encoder, got {model.ContextLength}");
        }

        if (model.GetInt32("batch_size") is < 1 or > OnnxEncoderModel.MaxBatchSize)
        {
            context.AddError(model, "batch_size", $"must be between 1 and {OnnxEncoderModel.MaxBatchSize}");
        }

        if (model.GetInt32("batch_tokens") is < 1 or > 1 << 20)
        {
            context.AddError(model, "batch_tokens", $"must be between 1 and {1 << 20} (a run never holds fewer tokens than one text of context_length)");
        }

        if (model.GetInt32("threads") is < 1 or > 1024)
        {
            context.AddError(model, "threads", "must be between 1 and 1024");
        }

        if (model.Capabilities.HasFlag(ModelCapabilities.Chat))
        {
            context.AddWarning($"{model.ConfigPath}.capabilities", $"'{model.Name}' is an ONNX encoder folder (model.onnx, no genai_config.json): it serves embeddings only, and its chat calls will fail");
        }

        try
        {
            _ = OnnxEncoderFolder.Read(model);
        }
        catch (ModelFormatException e)
        {
            context.AddWarning($"{model.ConfigPath}.path", $"{e.Message}; loading '{model.Name}' will fail until this is fixed");
        }
    }

    /// <summary>Resolves the settings, filling defaults from the folder.</summary>
    public static OnnxEncoderSettings From(ModelDescriptor model, OnnxEncoderFolder folder) =>
        new(folder.ContextLength(model), model.GetInt32("batch_size") ?? OnnxEncoderModel.DefaultBatchSize,
            model.GetInt32("batch_tokens") ?? OnnxEncoderModel.DefaultBatchTokens, model.GetInt32("threads"));
}
