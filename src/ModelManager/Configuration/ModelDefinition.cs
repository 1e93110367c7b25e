namespace ModelManager;

/// <summary>One entry of <c>models</c> in the configuration.</summary>
public sealed class ModelDefinition
{
    /// <summary><c>name</c>: unique, non-empty.</summary>
    public string Name { get; set; } = "";

    /// <summary><c>type</c>: <c>gguf</c>, <c>huggingface</c> (alias <c>onnx</c>), <c>openai</c> or <c>fake</c>; its backend must be registered.</summary>
    public string Type { get; set; } = "";

    /// <summary><c>path</c>: the model file or folder (relative to the config file), or a URL for <c>openai</c>.</summary>
    public string? Path { get; set; }

    /// <summary><c>context_length</c>: tokens of context per sequence. Default: the backend's choice (the model's own).</summary>
    public int? ContextLength { get; set; }

    /// <summary><c>parameters</c>: default generation settings.</summary>
    public GenerationOptions Parameters { get; set; } = new();

    /// <summary><c>memory_priority</c>: 1 (keep longest) to 5 (evict first). Default 3.</summary>
    public int MemoryPriority { get; set; } = 3;

    /// <summary><c>max_idle_time</c>: seconds unused before the model is unloaded; 0 = never. Default 0.</summary>
    public double MaxIdleTime { get; set; }

    /// <summary><c>max_queue</c>: calls the model may hold at once (running and waiting); one more is refused with <see cref="ModelBusyException"/>; 0 = no limit. Default 512.</summary>
    public int MaxQueue { get; set; } = ModelDescriptor.DefaultMaxQueue;

    /// <summary><c>queue_timeout</c>: seconds a call may wait for its first token before it gives up with <see cref="ModelBusyException"/>; 0 = no limit. Default 0.</summary>
    public double QueueTimeout { get; set; }

    /// <summary><c>preload</c>: load when the host starts. Default false.</summary>
    public bool Preload { get; set; }

    /// <summary><c>fallbacks</c>: models to try, in order, when this one cannot load. Default none.</summary>
    public IList<string> Fallbacks { get; set; } = [];

    /// <summary><c>capabilities</c>: what the model serves, <c>["chat"]</c>, <c>["embeddings"]</c> or both. Default: detected by the backend from the file (an ONNX encoder folder serves embeddings only; a GGUF both; otherwise chat).</summary>
    public IList<string>? Capabilities { get; set; }

    /// <summary>Backend-specific keys, flattened with ':' (<c>gpu_layers</c>, <c>parameters:size_mb</c>, <c>endpoints:0</c>).</summary>
    public IDictionary<string, string?> Settings { get; set; } = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
}
