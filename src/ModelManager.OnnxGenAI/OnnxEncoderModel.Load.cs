using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace ModelManager;

// Loading: the tokenizer, the session, and the managed check of the graph's inputs and outputs.
internal sealed partial class OnnxEncoderModel
{
    /// <summary>Creates the session and the tokenizer; the caller holds <see cref="OgaRuntime.LoadGate"/> so the measured growth is this load's.</summary>
    /// <exception cref="ModelFormatException">The ONNX file's inputs or outputs are not an encoder's; names the file.</exception>
    /// <exception cref="ModelLoadException">ONNX Runtime refused the file.</exception>
    public static OnnxEncoderModel Load(ModelDescriptor model, OnnxEncoderFolder folder, int contextLength, int batchSize, int batchTokens, int? threads, ILogger logger)
    {
        var started = Stopwatch.GetTimestamp();
        BertTokenizer tokenizer;
        try
        {
            using var vocabulary = new MemoryStream(folder.Vocabulary, writable: false);
            tokenizer = BertTokenizer.Create(vocabulary, new BertOptions
            {
                LowerCaseBeforeTokenization = folder.LowerCase,
                RemoveNonSpacingMarks = folder.StripAccents,
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or IOException)
        {
            throw OnnxEncoderFolder.Error(folder.VocabularyPath, $"is not a WordPiece vocabulary: {e.Message}", model.Name, e);
        }

        OnnxRuntimeStart.EnsureOnnxRuntime(logger); // the process-wide runtime (about 13 MB, once) is not this model's
        var before = Environment.WorkingSet;
        InferenceSession session;
        using (var options = new SessionOptions())
        {
            if (threads is { } n)
            {
                options.IntraOpNumThreads = n;
            }

            try
            {
                session = new InferenceSession(folder.ModelPath, options);
            }
            catch (OnnxRuntimeException e)
            {
                throw new ModelLoadException(model.Name, $"ONNX Runtime could not load model '{model.Name}' from {folder.ModelPath}: {e.Message}", e);
            }
        }

        try
        {
            var (output, hasTokenTypes, dimensions) = CheckSignature(model, folder, session);
            var growth = Environment.WorkingSet - before;
            var instance = new OnnxEncoderModel(model, session, tokenizer, output, hasTokenTypes, dimensions, contextLength, batchSize, batchTokens, Math.Max(growth, folder.OnnxBytes));
            OnnxGenAILog.EncoderLoaded(logger, model.Name, Stopwatch.GetElapsedTime(started).TotalMilliseconds, dimensions, contextLength, batchSize,
                growth / 1048576.0, folder.OnnxBytes / 1048576.0);
            return instance;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>Checks in managed code that the graph is an encoder: int64 [batch, sequence] inputs and a float [batch, sequence, hidden] output.</summary>
    private static (string Output, bool HasTokenTypes, int Dimensions) CheckSignature(ModelDescriptor model, OnnxEncoderFolder folder, InferenceSession session)
    {
        var inputs = session.InputMetadata;
        string Signature() =>
            $"inputs [{string.Join(", ", inputs.Select(kv => Describe(kv.Key, kv.Value)))}], outputs [{string.Join(", ", session.OutputMetadata.Select(kv => Describe(kv.Key, kv.Value)))}]";

        foreach (var required in new[] { InputIds, AttentionMask })
        {
            if (!inputs.TryGetValue(required, out var meta) || !IsTokenInput(meta))
            {
                throw OnnxEncoderFolder.Error(folder.ModelPath,
                    $"is not a sentence-embedding encoder: it needs an int64 [batch, sequence] input '{required}'; it has {Signature()}", model.Name);
            }
        }

        var extra = inputs.Keys.FirstOrDefault(k => k is not InputIds and not AttentionMask and not TokenTypeIds);
        if (extra is not null || (inputs.TryGetValue(TokenTypeIds, out var types) && !IsTokenInput(types)))
        {
            throw OnnxEncoderFolder.Error(folder.ModelPath,
                $"is not a sentence-embedding encoder: its input '{extra ?? TokenTypeIds}' is not one of int64 [batch, sequence] input_ids, attention_mask, token_type_ids; it has {Signature()}", model.Name);
        }

        // last_hidden_state (or token_embeddings) is what the pooling needs; another name is accepted when it is the only 3-D float output.
        var candidates = session.OutputMetadata.Where(kv => kv.Value.ElementType == typeof(float) && kv.Value.Dimensions.Length == 3).ToArray();
        var output = candidates.FirstOrDefault(kv => kv.Key is "last_hidden_state" or "token_embeddings");
        if (output.Key is null && candidates.Length == 1)
        {
            output = candidates[0];
        }

        if (output.Key is null || output.Value.Dimensions[2] <= 0)
        {
            throw OnnxEncoderFolder.Error(folder.ModelPath,
                $"is not a sentence-embedding encoder: it needs a float [batch, sequence, hidden] output 'last_hidden_state' with a fixed hidden size; it has {Signature()}", model.Name);
        }

        return (output.Key, inputs.ContainsKey(TokenTypeIds), output.Value.Dimensions[2]);
    }

    private static bool IsTokenInput(NodeMetadata meta) => meta.IsTensor && meta.ElementType == typeof(long) && meta.Dimensions.Length == 2;

    private static string Describe(string name, NodeMetadata meta) =>
        meta.IsTensor ? $"{name}: {meta.ElementType.Name} [{string.Join(", ", meta.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : meta.SymbolicDimensions[i] is { Length: > 0 } s ? s : "?"))}]"
        : $"{name}: {meta.OnnxValueType}";
}
