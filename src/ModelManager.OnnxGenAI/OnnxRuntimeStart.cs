using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntimeGenAI;
using static ModelManager.OnnxProtoWriter;

namespace ModelManager;

/// <summary>
/// Pays ONNX Runtime's and ONNX Runtime GenAI's one-time start on a model of one Identity node, before a real model's
/// load is measured, so that the first model of a process is charged what it costs and not the runtimes' start.
/// </summary>
/// <remarks>
/// Thread-safe; callers hold <see cref="OgaRuntime.LoadGate"/>, so no measured load runs meanwhile. Measured on the 2-core
/// guest (tiny-random-gpt2, RSS growth with every copy kept alive): a process's first GenAI load grew by 54 MB (27 MB of
/// file-backed pages, the native libraries' code, and 27 MB of heap), each later copy by 10-11 MB;
/// after this start the first load grows by 18 MB. The start itself (about 37 MB) is the process's, like the .NET runtime's,
/// not a model's, and no budget charges it. ONNX Runtime's part lasts the process; GenAI's is paid again after
/// <see cref="OgaRuntime"/> shut GenAI down and started it again. When a runtime refuses the start model (a newer runtime
/// with other rules), the load goes on and its measurement includes the start, as it did before this class.
/// </remarks>
internal static class OnnxRuntimeStart
{
    private static readonly Lock Gate = new();
    private static bool _onnxRuntimeStarted;
    private static int _genAIStartedFor;

    /// <summary>An ONNX model of one node, <c>y = Identity(x)</c> on <c>float[1]</c>, opset 13: the smallest graph both runtimes load.</summary>
    public static byte[] IdentityModel { get; } = BuildIdentityModel();

    /// <summary>Starts ONNX Runtime (environment, CPU kernel registry, code pages) once per process.</summary>
    /// <returns>True when the start model loaded now or before; false when the runtime refused it.</returns>
    public static bool EnsureOnnxRuntime(ILogger logger)
    {
        lock (Gate)
        {
            return _onnxRuntimeStarted || (_onnxRuntimeStarted = StartOnnxRuntime(logger));
        }
    }

    /// <summary>Loads <see cref="IdentityModel"/> into an ONNX Runtime session and frees it.</summary>
    /// <returns>False when the runtime refused it (logged).</returns>
    internal static bool StartOnnxRuntime(ILogger logger)
    {
        var (before, started) = (Environment.WorkingSet, Stopwatch.GetTimestamp());
        try
        {
            _ = OrtEnv.Instance();
            using var session = new InferenceSession(IdentityModel);
        }
        catch (OnnxRuntimeException e)
        {
            OnnxGenAILog.RuntimeStartFailed(logger, "ONNX Runtime", e);
            return false;
        }

        OnnxGenAILog.RuntimeStarted(logger, "ONNX Runtime", Stopwatch.GetElapsedTime(started).TotalMilliseconds, (Environment.WorkingSet - before) / 1048576.0);
        return true;
    }

    /// <summary>Starts ONNX Runtime GenAI (model and tokenizer machinery) once per <see cref="OgaRuntime"/> start; the caller holds a runtime reference.</summary>
    /// <returns>True when the start model loaded now or before in this start; false when GenAI refused it or its folder could not be written.</returns>
    public static bool EnsureGenAI(ILogger logger)
    {
        lock (Gate)
        {
            var start = OgaRuntime.Starts;
            if (_genAIStartedFor == start)
            {
                return true;
            }

            if (!StartGenAI(logger))
            {
                return false;
            }

            _genAIStartedFor = start;
            return true;
        }
    }

    /// <summary>Loads the GenAI start model (config, model, tokenizer) from a temporary folder and frees it; the caller holds a runtime reference.</summary>
    /// <returns>False when GenAI refused it or its folder could not be written (logged).</returns>
    internal static bool StartGenAI(ILogger logger)
    {
        var (before, started) = (Environment.WorkingSet, Stopwatch.GetTimestamp());
        var folder = StartFolderPrefix + Guid.NewGuid().ToString("N");
        try
        {
            WriteGenAIStartModel(folder);
            using var config = new GuardedOga.Config(folder);
            config.ClearProviders();
            using var model = new GuardedOga.Model(config);
            using var tokenizer = new GuardedOga.Tokenizer(model);
        }
        catch (Exception e) when (e is OnnxRuntimeGenAIException or IOException or UnauthorizedAccessException)
        {
            OnnxGenAILog.RuntimeStartFailed(logger, "ONNX Runtime GenAI", e);
            return false;
        }
        finally
        {
            TryDelete(folder);
        }

        OnnxGenAILog.RuntimeStarted(logger, "ONNX Runtime GenAI", Stopwatch.GetElapsedTime(started).TotalMilliseconds, (Environment.WorkingSet - before) / 1048576.0);
        return true;
    }

    /// <summary>Where <see cref="StartGenAI"/> writes its folders: the temporary folder, each named after this process and a new GUID.</summary>
    internal static string StartFolderPrefix => Path.Combine(Path.GetTempPath(), $"modelmanager-onnx-start-{Environment.ProcessId}-");

    /// <summary>A GenAI model folder around <see cref="IdentityModel"/>: a one-layer gpt2 config naming its input and output, and a two-token BPE tokenizer.</summary>
    private static void WriteGenAIStartModel(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), IdentityModel);
        File.WriteAllText(Path.Combine(folder, OnnxModelFolder.ConfigFileName), """
            { "model": { "type": "gpt2", "pad_token_id": 0, "bos_token_id": 0, "eos_token_id": 0, "vocab_size": 2, "context_length": 8,
              "decoder": { "session_options": { "provider_options": [] }, "filename": "model.onnx",
                "num_key_value_heads": 1, "head_size": 1, "num_hidden_layers": 1,
                "inputs": { "input_ids": "x", "past_names": "past_%d" }, "outputs": { "logits": "y", "present_names": "present_%d" } } } }
            """);
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), """{ "tokenizer_class": "GPT2Tokenizer", "bos_token": "a", "eos_token": "a", "unk_token": "a" }""");
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), """
            { "version": "1.0", "added_tokens": [], "normalizer": null, "post_processor": null,
              "pre_tokenizer": { "type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true },
              "decoder": { "type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true },
              "model": { "type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": "", "end_of_word_suffix": "", "fuse_unk": false,
                "vocab": { "a": 0, "b": 1 }, "merges": [] } }
            """);
    }

    private static void TryDelete(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temporary folder of four small files; the OS's temp cleaning takes it.
        }
    }

    // ---- The Identity model, in ONNX's protobuf encoding (onnx.proto: ModelProto, GraphProto, NodeProto, ValueInfoProto) ----

    private static byte[] BuildIdentityModel()
    {
        var floatOfOne = Message(1, // TypeProto.tensor_type
            Varint(1, 1), // elem_type FLOAT
            Message(2, Message(1, Varint(1, 1)))); // shape: one dim, dim_value 1
        return Concat(
            Varint(1, 8), // ModelProto.ir_version
            Message(7, // ModelProto.graph
                Message(1, Text(1, "x"), Text(2, "y"), Text(4, "Identity")), // node: input, output, op_type
                Text(2, "modelmanager-start"), // name
                Message(11, Text(1, "x"), Bytes(2, floatOfOne)), // input
                Message(12, Text(1, "y"), Bytes(2, floatOfOne))), // output
            Message(8, Text(1, ""), Varint(2, 13))); // opset_import: default domain, 13
    }
}
