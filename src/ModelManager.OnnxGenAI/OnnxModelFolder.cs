using System.Globalization;
using System.Text.Json;

namespace ModelManager;

/// <summary>An ONNX Runtime GenAI model folder, checked in managed code before any native call sees it.</summary>
/// <remarks>
/// Immutable. <see cref="Read(string?, string)"/> throws <see cref="ModelFormatException"/> naming the offending file for every problem it
/// can see without ONNX Runtime: a missing or malformed <c>genai_config.json</c>, missing ONNX or external data files,
/// missing tokenizer files, and a plain Hugging Face checkpoint that was never converted.
/// </remarks>
internal sealed class OnnxModelFolder
{
    /// <summary>The file ONNX Runtime GenAI reads first.</summary>
    public const string ConfigFileName = "genai_config.json";

    /// <summary>The largest genai_config.json read (4 MB).</summary>
    public const long MaxConfigBytes = 4L << 20;

    /// <summary>The largest tokenizer file accepted (512 MB; real ones are tens of MB).</summary>
    public const long MaxTokenizerBytes = 512L << 20;

    /// <summary>The command that turns a Hugging Face checkpoint into a model folder, for error messages.</summary>
    public const string ConvertCommand = "python -m onnxruntime_genai.models.builder -m <hf-id-or-folder> -o <out> -p int4 -e cpu";

    private static readonly string[] TokenizerFiles = ["tokenizer.json", "tokenizer_config.json"];

    private OnnxModelFolder(
        string directory, string modelType, int contextLength, int vocabSize, int layers, int keyValueHeads, int headSize,
        IReadOnlyList<int> eosTokenIds, IReadOnlyList<OnnxFile> files, int kvElementBytes)
    {
        Directory = directory;
        ModelType = modelType;
        ContextLength = contextLength;
        VocabSize = vocabSize;
        Layers = layers;
        KeyValueHeads = keyValueHeads;
        HeadSize = headSize;
        EosTokenIds = eosTokenIds;
        Files = files;
        KvElementBytes = kvElementBytes;
        OnnxBytes = files.Sum(f => f.Bytes);
    }

    /// <summary>The model folder, full path.</summary>
    public string Directory { get; }

    /// <summary><c>model.type</c> (gpt2, llama, phi3, qwen2, ...).</summary>
    public string ModelType { get; }

    /// <summary><c>model.context_length</c>: the most tokens (prompt plus generated) one sequence may hold.</summary>
    public int ContextLength { get; }

    /// <summary><c>model.vocab_size</c>: token ids must be below it.</summary>
    public int VocabSize { get; }

    /// <summary><c>model.decoder.num_hidden_layers</c>.</summary>
    public int Layers { get; }

    /// <summary><c>model.decoder.num_key_value_heads</c>.</summary>
    public int KeyValueHeads { get; }

    /// <summary><c>model.decoder.head_size</c>.</summary>
    public int HeadSize { get; }

    /// <summary><c>model.eos_token_id</c> (a number or an array); empty when absent.</summary>
    public IReadOnlyList<int> EosTokenIds { get; }

    /// <summary>Every ONNX file the config names, and the external data files those reference, with their sizes.</summary>
    public IReadOnlyList<OnnxFile> Files { get; }

    /// <summary>The sum of <see cref="Files"/>' sizes.</summary>
    public long OnnxBytes { get; }

    /// <summary>Bytes per KV-cache element: from the decoder's past inputs when the scan found them, else 4 (float32).</summary>
    public int KvElementBytes { get; }

    /// <summary>The KV cache one sequence of <paramref name="contextLength"/> tokens needs: layers × KV heads × head size × context × 2 (K and V) × element bytes.</summary>
    public long KvCacheBytes(int contextLength) =>
        (long)Layers * KeyValueHeads * HeadSize * contextLength * 2 * KvElementBytes;

    /// <summary>
    /// Whether <c>tokenizer_config.json</c> carries a <c>chat_template</c> (read in managed code, for inspection; the load asks
    /// ONNX Runtime GenAI itself); null when the file is over <see cref="MaxConfigBytes"/> or not JSON.
    /// </summary>
    public bool? HasChatTemplate()
    {
        var path = Path.Combine(Directory, TokenizerFiles[1]);
        try
        {
            using var document = JsonDocument.Parse(GuardedFile.ReadAllBytes(path, MaxConfigBytes, "a tokenizer configuration"));
            return document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("chat_template", out var template)
                && template.ValueKind is JsonValueKind.String or JsonValueKind.Array
                && !(template.ValueKind == JsonValueKind.String && template.GetString() is "");
        }
        catch (Exception e) when (e is JsonException or UnreadableFileException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Reads and checks the folder of <paramref name="model"/>.</summary>
    /// <exception cref="ModelFormatException">Something is missing or malformed; the message names the file and the model.</exception>
    public static OnnxModelFolder Read(ModelDescriptor model) => Read(model.Path, model.Name);

    /// <summary>Reads and checks the folder at <paramref name="path"/> for the model named <paramref name="modelName"/>.</summary>
    /// <exception cref="ModelFormatException">Something is missing or malformed; the message names the file and the model.</exception>
    public static OnnxModelFolder Read(string? path, string modelName)
    {
        var directory = CheckDirectory(path, modelName);
        var configPath = Path.Combine(directory, ConfigFileName);
        if (!File.Exists(configPath))
        {
            throw MissingConfig(directory, configPath, modelName);
        }

        using var document = ParseConfig(configPath, modelName);
        var problems = new List<string>();
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var m) || m.ValueKind != JsonValueKind.Object)
        {
            throw Error(configPath, "must be a JSON object with a \"model\" object (the layout ONNX Runtime GenAI's model builder writes)", modelName);
        }

        var modelType = RequireString(m, "model", "type", problems);
        var context = RequirePositiveInt(m, "model", "context_length", problems);
        var vocab = RequirePositiveInt(m, "model", "vocab_size", problems);
        var eos = ReadTokenIds(m, "model", "eos_token_id", problems);
        int layers = 0, heads = 0, headSize = 0;
        string? decoderFile = null;
        JsonElement decoder = default;
        if (!m.TryGetProperty("decoder", out decoder) || decoder.ValueKind != JsonValueKind.Object)
        {
            problems.Add($"model.decoder must be an object, got {Describe(m, "decoder")}");
        }
        else
        {
            decoderFile = RequireString(decoder, "model.decoder", "filename", problems);
            layers = RequirePositiveInt(decoder, "model.decoder", "num_hidden_layers", problems);
            heads = RequirePositiveInt(decoder, "model.decoder", "num_key_value_heads", problems);
            headSize = RequirePositiveInt(decoder, "model.decoder", "head_size", problems);
        }

        if (problems.Count > 0)
        {
            throw Error(configPath, string.Join("; ", problems), modelName);
        }

        // Every other ONNX file the config names (embedding, vision, speech sessions of multi-part models).
        var named = new List<(string JsonPath, string FileName)> { ("model.decoder.filename", decoderFile!) };
        foreach (var section in m.EnumerateObject())
        {
            if (section.Name != "decoder" && section.Value.ValueKind == JsonValueKind.Object &&
                section.Value.TryGetProperty("filename", out var f) && f.ValueKind == JsonValueKind.String && f.GetString() is { Length: > 0 } name)
            {
                named.Add(($"model.{section.Name}.filename", name));
            }
        }

        var files = new List<OnnxFile>();
        var kvBytes = 0;
        foreach (var (jsonPath, fileName) in named)
        {
            var onnxPath = Path.GetFullPath(Path.Combine(directory, fileName));
            CheckFile(onnxPath, $"is named by {jsonPath} in {ConfigFileName}", modelName);
            var size = GuardedFile.Stat(onnxPath).Length; // of the file a link points to, not of the link
            if (size == 0)
            {
                throw Error(onnxPath, $"is empty (0 bytes); it is named by {jsonPath} in {ConfigFileName}", modelName);
            }

            files.Add(new OnnxFile(onnxPath, size));
            var scan = OnnxFileScanner.Scan(onnxPath, jsonPath == "model.decoder.filename" ? PastInputPrefixes(decoder) : []);
            if (scan.KvElementBytes > 0 && kvBytes == 0)
            {
                kvBytes = scan.KvElementBytes;
            }

            foreach (var location in scan.ExternalDataLocations)
            {
                var dataPath = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(onnxPath)!, location));
                CheckFile(dataPath, $"holds external data of {Path.GetFileName(onnxPath)}", modelName);
                if (!files.Exists(x => x.Path == dataPath))
                {
                    files.Add(new OnnxFile(dataPath, GuardedFile.Stat(dataPath).Length));
                }
            }
        }

        foreach (var tokenizerFile in TokenizerFiles)
        {
            CheckFile(Path.Combine(directory, tokenizerFile), "is needed by the tokenizer (the model builder copies it from the Hugging Face checkpoint)", modelName, MaxTokenizerBytes);
        }

        return new OnnxModelFolder(directory, modelType!, context, vocab, layers, heads, headSize, eos, files, kvBytes > 0 ? kvBytes : 4);
    }

    private static string CheckDirectory(string? path, string modelName)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw Error("", $"model '{modelName}' has no path; a huggingface model needs the folder holding {ConfigFileName}, the .onnx file(s) and the tokenizer files", modelName, withModel: false);
        }

        var full = Path.GetFullPath(path);
        if (File.Exists(full))
        {
            var folder = Path.GetDirectoryName(full);
            var hint = folder is not null && File.Exists(Path.Combine(folder, ConfigFileName)) ? $"; use its folder '{folder}'" : "";
            throw Error(full, $"is a file, not a model folder: path must be the folder holding {ConfigFileName}{hint}", modelName);
        }

        if (!System.IO.Directory.Exists(full))
        {
            throw Error(full, "folder not found", modelName);
        }

        return full;
    }

    private static ModelFormatException MissingConfig(string directory, string configPath, string modelName)
    {
        string[] entries;
        try
        {
            entries = System.IO.Directory.GetFileSystemEntries(directory).Select(Path.GetFileName).ToArray()!;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return Error(directory, $"cannot be listed: {e.Message}", modelName, inner: e);
        }

        if (System.IO.Directory.Exists(configPath))
        {
            return Error(configPath, "is a directory, not a file", modelName);
        }

        if (entries.Length == 0)
        {
            return Error(configPath, $"not found: the folder is empty; it must hold an ONNX Runtime GenAI model ({ConfigFileName}, the .onnx file(s) it names, tokenizer.json and tokenizer_config.json)", modelName);
        }

        var weights = entries.FirstOrDefault(e => e.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) ||
                                                  (e.EndsWith(".bin", StringComparison.OrdinalIgnoreCase) && e.StartsWith("pytorch_model", StringComparison.OrdinalIgnoreCase)));
        if (entries.Contains("config.json", StringComparer.Ordinal) && weights is not null)
        {
            return Error(configPath,
                $"not found: the folder holds a plain Hugging Face checkpoint (config.json, {weights}), which ONNX Runtime GenAI cannot run. " +
                $"Convert it first with the onnxruntime-genai model builder, e.g. `{ConvertCommand.Replace("<hf-id-or-folder>", directory, StringComparison.Ordinal)}`, " +
                "and point path at the output folder", modelName);
        }

        var onnx = entries.FirstOrDefault(e => e.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase));
        var detail = onnx is not null
            ? $"the folder has {onnx} but no {ConfigFileName}; ONNX Runtime GenAI needs the config its model builder writes ({ConvertCommand})"
            : $"the folder must hold an ONNX Runtime GenAI model ({ConfigFileName}, the .onnx file(s) it names, tokenizer.json and tokenizer_config.json)";
        return Error(configPath, $"not found: {detail}", modelName);
    }

    private static JsonDocument ParseConfig(string configPath, string modelName)
    {
        try
        {
            var bytes = GuardedFile.ReadAllBytes(configPath, MaxConfigBytes, $"the {ConfigFileName} of model '{modelName}'");
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            var at = e.LineNumber is { } line ? string.Create(CultureInfo.InvariantCulture, $" at line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}") : "";
            throw Error(configPath, $"is not valid JSON{at}: {e.Message}", modelName, inner: e);
        }
        catch (UnreadableFileException e)
        {
            throw Error(configPath, e.Message.StartsWith(configPath + ": ", StringComparison.Ordinal) ? e.Message[(configPath.Length + 2)..].TrimEnd('.') : e.Message, modelName, inner: e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Error(configPath, $"cannot be read: {e.Message}", modelName, inner: e);
        }
    }

    private static void CheckFile(string path, string why, string modelName, long maxBytes = long.MaxValue)
    {
        var (kind, length) = GuardedFile.Stat(path);
        switch (kind)
        {
            case FileKind.Directory:
                throw Error(path, $"is a directory, not a file; it {why}", modelName);
            case FileKind.Missing:
                throw Error(path, $"not found; it {why}", modelName);
            case not FileKind.Regular:
                throw Error(path, $"is {GuardedFile.Describe(kind)}, not a regular file; it {why}", modelName);
        }

        if (length > maxBytes)
        {
            throw Error(path, string.Create(CultureInfo.InvariantCulture, $"is {length:N0} bytes, over the cap of {maxBytes:N0} bytes; it {why}"), modelName);
        }

        try
        {
            using var _ = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw Error(path, $"cannot be read: {e.Message}", modelName, inner: e);
        }
    }

    private static string[] PastInputPrefixes(JsonElement decoder)
    {
        var prefixes = new List<string>();
        if (decoder.TryGetProperty("inputs", out var inputs) && inputs.ValueKind == JsonValueKind.Object)
        {
            foreach (var key in (string[])["past_key_names", "past_value_names", "past_names"])
            {
                if (inputs.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } pattern)
                {
                    var cut = pattern.IndexOf('%', StringComparison.Ordinal);
                    prefixes.Add(cut > 0 ? pattern[..cut] : pattern);
                }
            }
        }

        prefixes.Add("past");
        return prefixes.ToArray();
    }

    private static string? RequireString(JsonElement obj, string at, string name, List<string> problems)
    {
        if (obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s)
        {
            return s;
        }

        problems.Add($"{at}.{name} must be a non-empty string, got {Describe(obj, name)}");
        return null;
    }

    private static int RequirePositiveInt(JsonElement obj, string at, string name, List<string> problems)
    {
        if (obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n > 0)
        {
            return n;
        }

        problems.Add($"{at}.{name} must be a positive integer, got {Describe(obj, name)}");
        return 0;
    }

    private static int[] ReadTokenIds(JsonElement obj, string at, string name, List<string> problems)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var single) && single >= 0)
        {
            return [single];
        }

        if (v.ValueKind == JsonValueKind.Array && v.EnumerateArray().All(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var i) && i >= 0))
        {
            return v.EnumerateArray().Select(x => x.GetInt32()).ToArray();
        }

        problems.Add($"{at}.{name} must be a token id or an array of token ids, got {Describe(obj, name)}");
        return [];
    }

    private static string Describe(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var v))
        {
            return "nothing (the key is missing)";
        }

        var raw = v.GetRawText();
        if (raw.Length > 40)
        {
            raw = raw[..40] + "…";
        }

        return $"{raw} ({v.ValueKind.ToString().ToLowerInvariant()})";
    }

    private static ModelFormatException Error(string file, string message, string modelName, bool withModel = true, Exception? inner = null) =>
        new(file, withModel ? $"{message} (model '{modelName}')" : message, modelName: modelName, innerException: inner);
}
