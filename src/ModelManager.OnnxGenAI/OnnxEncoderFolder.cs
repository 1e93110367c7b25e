using System.Globalization;
using System.Text;
using System.Text.Json;

namespace ModelManager;

/// <summary>A sentence-transformers ONNX export (an encoder: <c>model.onnx</c> plus a WordPiece <c>vocab.txt</c> or <c>tokenizer.json</c>), checked in managed code.</summary>
/// <remarks>
/// Immutable. A folder without <c>genai_config.json</c> whose <c>model.onnx</c> (or <c>onnx/model.onnx</c>) exists is an
/// encoder, and serves embeddings only. Every file passes <see cref="GuardedFile"/> (regular files, size caps) before it is
/// read here or opened by ONNX Runtime.
/// </remarks>
internal sealed class OnnxEncoderFolder
{
    /// <summary>The encoder's ONNX file name.</summary>
    public const string ModelFileName = "model.onnx";

    /// <summary>The largest ONNX file accepted (2 GB, protobuf's own limit; larger weights live in external data files).</summary>
    public const long MaxOnnxBytes = 2L << 30;

    /// <summary>The largest <c>vocab.txt</c> accepted (64 MB; BERT's is 0.25 MB).</summary>
    public const long MaxVocabBytes = 64L << 20;

    /// <summary>The largest small JSON file accepted (<c>sentence_bert_config.json</c>, <c>tokenizer_config.json</c>: 4 MB).</summary>
    public const long MaxJsonBytes = 4L << 20;

    /// <summary>The default of <c>context_length</c> when the folder does not say (sentence-transformers' <c>max_seq_length</c> of MiniLM-class models).</summary>
    public const int DefaultContextLength = 256;

    /// <summary>The longest <c>context_length</c> accepted: BERT-class position embeddings stop at 512.</summary>
    public const int MaxContextLength = 512;

    private OnnxEncoderFolder(string directory, string modelPath, IReadOnlyList<OnnxFile> files, byte[] vocabulary, string vocabularyPath,
        bool lowerCase, bool stripAccents, int? maxSequenceLength)
    {
        Directory = directory;
        ModelPath = modelPath;
        Files = files;
        Vocabulary = vocabulary;
        VocabularyPath = vocabularyPath;
        LowerCase = lowerCase;
        StripAccents = stripAccents;
        MaxSequenceLength = maxSequenceLength;
        OnnxBytes = files.Sum(f => f.Bytes);
    }

    /// <summary>The model folder, full path.</summary>
    public string Directory { get; }

    /// <summary>The ONNX file.</summary>
    public string ModelPath { get; }

    /// <summary>The ONNX file and the external data files it references, with their sizes.</summary>
    public IReadOnlyList<OnnxFile> Files { get; }

    /// <summary>The sum of <see cref="Files"/>' sizes.</summary>
    public long OnnxBytes { get; }

    /// <summary>The WordPiece vocabulary as <c>vocab.txt</c> bytes (one token per line, in id order), read from <see cref="VocabularyPath"/>.</summary>
    public byte[] Vocabulary { get; }

    /// <summary><c>vocab.txt</c>, or the <c>tokenizer.json</c> the vocabulary came from.</summary>
    public string VocabularyPath { get; }

    /// <summary>Lower-case before WordPiece (bert-base-uncased: true).</summary>
    public bool LowerCase { get; }

    /// <summary>Strip accents (NFD, then drop non-spacing marks) before WordPiece (bert-base-uncased: true, with lower case).</summary>
    public bool StripAccents { get; }

    /// <summary><c>max_seq_length</c> from <c>sentence_bert_config.json</c>, when the folder has one.</summary>
    public int? MaxSequenceLength { get; }

    /// <summary>True when <paramref name="path"/> is a folder without <c>genai_config.json</c> that holds <c>model.onnx</c> (or <c>onnx/model.onnx</c>).</summary>
    public static bool IsEncoderFolder(string? path)
    {
        if (string.IsNullOrWhiteSpace(path) || !System.IO.Directory.Exists(path) || File.Exists(Path.Combine(path, OnnxModelFolder.ConfigFileName)))
        {
            return false;
        }

        return FindModel(path) is not null;
    }

    /// <summary>Reads and checks the encoder folder of <paramref name="model"/>.</summary>
    /// <exception cref="ModelFormatException">A file is missing, not a regular file, over its cap or malformed; the message names it and the model.</exception>
    public static OnnxEncoderFolder Read(ModelDescriptor model)
    {
        var directory = Path.GetFullPath(model.Path ?? throw Error("", $"model '{model.Name}' has no path; an ONNX encoder needs the folder holding {ModelFileName} and vocab.txt or tokenizer.json", model.Name));
        var modelPath = FindModel(directory) ?? throw Error(Path.Combine(directory, ModelFileName), "not found: an ONNX encoder folder needs model.onnx (or onnx/model.onnx)", model.Name);
        var files = new List<OnnxFile> { new(modelPath, Guard(modelPath, MaxOnnxBytes, $"the ONNX file of model '{model.Name}'", model.Name)) };
        foreach (var location in OnnxFileScanner.Scan(modelPath, []).ExternalDataLocations)
        {
            var dataPath = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(modelPath)!, location));
            if (!dataPath.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                throw Error(modelPath, $"references external data '{location}' outside the model folder", model.Name);
            }

            files.Add(new OnnxFile(dataPath, Guard(dataPath, long.MaxValue, $"external data of {Path.GetFileName(modelPath)} (model '{model.Name}')", model.Name)));
        }

        var lowerCase = true;
        var stripAccents = true;
        byte[] vocabulary;
        string vocabularyPath;
        var vocabTxt = Path.Combine(directory, "vocab.txt");
        var tokenizerJson = Path.Combine(directory, "tokenizer.json");
        if (File.Exists(vocabTxt))
        {
            vocabularyPath = vocabTxt;
            vocabulary = ReadGuarded(vocabTxt, MaxVocabBytes, $"the WordPiece vocabulary of model '{model.Name}'", model.Name);
            if (vocabulary.Length == 0)
            {
                throw Error(vocabTxt, "is empty; a WordPiece vocabulary has one token per line", model.Name);
            }

            ReadTokenizerConfig(Path.Combine(directory, "tokenizer_config.json"), model.Name, ref lowerCase, ref stripAccents);
        }
        else if (File.Exists(tokenizerJson))
        {
            vocabularyPath = tokenizerJson;
            vocabulary = ReadTokenizerJson(tokenizerJson, model.Name, ref lowerCase, ref stripAccents);
        }
        else
        {
            throw Error(vocabTxt, $"not found: an ONNX encoder folder needs its WordPiece vocabulary, vocab.txt or tokenizer.json, beside {Path.GetFileName(modelPath)}", model.Name);
        }

        return new OnnxEncoderFolder(directory, modelPath, files, vocabulary, vocabularyPath, lowerCase, stripAccents,
            ReadMaxSequenceLength(Path.Combine(directory, "sentence_bert_config.json"), model.Name));
    }

    private static string? FindModel(string directory)
    {
        foreach (var candidate in new[] { Path.Combine(directory, ModelFileName), Path.Combine(directory, "onnx", ModelFileName) })
        {
            if (File.Exists(candidate) || GuardedFile.GetKind(candidate) is not FileKind.Missing)
            {
                return Path.GetFullPath(candidate);
            }
        }

        return null;
    }

    /// <summary>tokenizer.json's WordPiece model as vocab.txt lines in id order, and its normalizer's lower-case and accent settings.</summary>
    private static byte[] ReadTokenizerJson(string path, string modelName, ref bool lowerCase, ref bool stripAccents)
    {
        using var document = ParseJson(path, OnnxModelFolder.MaxTokenizerBytes, modelName);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("model", out var m) || m.ValueKind != JsonValueKind.Object)
        {
            throw Error(path, "must be a JSON object with a \"model\" object (a Hugging Face tokenizers file)", modelName);
        }

        var type = m.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
        if (type != "WordPiece")
        {
            throw Error(path, $"model.type is '{type ?? "(none)"}'; only WordPiece (BERT-style) encoders are supported", modelName);
        }

        if (!m.TryGetProperty("vocab", out var vocab) || vocab.ValueKind != JsonValueKind.Object)
        {
            throw Error(path, "model.vocab must be an object of token → id", modelName);
        }

        var tokens = new SortedDictionary<int, string>();
        foreach (var entry in vocab.EnumerateObject())
        {
            if (entry.Value.ValueKind != JsonValueKind.Number || !entry.Value.TryGetInt32(out var id) || id < 0 || entry.Name.Contains('\n', StringComparison.Ordinal))
            {
                throw Error(path, $"model.vocab[\"{entry.Name}\"] must be a non-negative integer id", modelName);
            }

            if (!tokens.TryAdd(id, entry.Name))
            {
                throw Error(path, $"model.vocab gives id {id} to both '{tokens[id]}' and '{entry.Name}'", modelName);
            }
        }

        if (tokens.Count == 0 || tokens.Keys.Last() != tokens.Count - 1)
        {
            throw Error(path, $"model.vocab must number its {tokens.Count} tokens 0 to {tokens.Count - 1} without gaps", modelName);
        }

        if (root.TryGetProperty("normalizer", out var normalizer) && normalizer.ValueKind == JsonValueKind.Object)
        {
            if (normalizer.TryGetProperty("lowercase", out var lc) && lc.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                lowerCase = lc.GetBoolean();
                stripAccents = lowerCase;
            }

            if (normalizer.TryGetProperty("strip_accents", out var sa) && sa.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                stripAccents = sa.GetBoolean();
            }
        }

        return Encoding.UTF8.GetBytes(string.Join('\n', tokens.Values) + "\n");
    }

    private static void ReadTokenizerConfig(string path, string modelName, ref bool lowerCase, ref bool stripAccents)
    {
        if (!File.Exists(path))
        {
            return;
        }

        using var document = ParseJson(path, MaxJsonBytes, modelName);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        if (document.RootElement.TryGetProperty("do_lower_case", out var lc) && lc.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            lowerCase = lc.GetBoolean();
            stripAccents = lowerCase;
        }

        if (document.RootElement.TryGetProperty("strip_accents", out var sa) && sa.ValueKind is JsonValueKind.True or JsonValueKind.False)
        {
            stripAccents = sa.GetBoolean();
        }
    }

    private static int? ReadMaxSequenceLength(string path, string modelName)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        using var document = ParseJson(path, MaxJsonBytes, modelName);
        return document.RootElement.ValueKind == JsonValueKind.Object
               && document.RootElement.TryGetProperty("max_seq_length", out var v) && v.TryGetInt32(out var n) && n > 0
            ? n
            : null;
    }

    private static JsonDocument ParseJson(string path, long maxBytes, string modelName)
    {
        var bytes = ReadGuarded(path, maxBytes, $"a tokenizer file of model '{modelName}'", modelName);
        try
        {
            return JsonDocument.Parse(bytes, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw Error(path, $"is not valid JSON: {e.Message}", modelName, e);
        }
    }

    private static byte[] ReadGuarded(string path, long maxBytes, string what, string modelName)
    {
        try
        {
            return GuardedFile.ReadAllBytes(path, maxBytes, what);
        }
        catch (Exception e) when (e is UnreadableFileException or IOException or UnauthorizedAccessException)
        {
            throw Error(path, e.Message, modelName, e);
        }
    }

    private static long Guard(string path, long maxBytes, string what, string modelName)
    {
        try
        {
            return GuardedFile.EnsureReadable(path, maxBytes, what);
        }
        catch (Exception e) when (e is UnreadableFileException or IOException)
        {
            throw Error(path, e.Message, modelName, e);
        }
    }

    /// <summary>The context length of a request: the configured one, else the folder's <c>max_seq_length</c>, else 256.</summary>
    public int ContextLength(ModelDescriptor model) =>
        model.ContextLength ?? Math.Clamp(MaxSequenceLength ?? DefaultContextLength, 3, MaxContextLength);

    internal static ModelFormatException Error(string file, string message, string modelName, Exception? inner = null) =>
        new(file, string.Create(CultureInfo.InvariantCulture, $"{message} (model '{modelName}')"), modelName: modelName, innerException: inner);
}
