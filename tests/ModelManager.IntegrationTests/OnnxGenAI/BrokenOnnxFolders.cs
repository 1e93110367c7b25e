using System.Text.Json.Nodes;

namespace ModelManager.IntegrationTests;

/// <summary>One broken model folder, how to make it, and the error it must give.</summary>
/// <param name="Name">A short name, used in the model name.</param>
/// <param name="Make">Builds the folder under the given scratch directory and returns the model's <c>path</c>.</param>
/// <param name="Native">True when the folder passes the managed checks and ONNX Runtime itself must refuse it (a plain <see cref="ModelLoadException"/>).</param>
/// <param name="File">For managed errors: the file name <see cref="ModelFormatException.FilePath"/> must end with.</param>
/// <param name="Fragments">Texts the message must contain.</param>
internal sealed record BrokenOnnxFolder(string Name, Func<string, string> Make, bool Native, string File, params string[] Fragments)
{
    public override string ToString() => Name;
}

/// <summary>The corpus of broken ONNX Runtime GenAI folders.</summary>
internal static class BrokenOnnxFolders
{
    public static IReadOnlyList<BrokenOnnxFolder> All { get; } =
    [
        new("missing-genai-config", dir => Tiny(dir, f => System.IO.File.Delete(Path.Combine(f, "genai_config.json"))), false, "genai_config.json",
            "not found: the folder has past.onnx but no genai_config.json", "onnxruntime_genai.models.builder"),
        new("bad-json", dir => Tiny(dir, f => System.IO.File.WriteAllText(Path.Combine(f, "genai_config.json"), "{ \"model\": { \"type\": \"gpt2\",\n  \"context_length\": 512,, }")), false, "genai_config.json",
            "is not valid JSON at line 2"),
        new("wrong-types", dir => Tiny(dir, f => OnnxManagers.EditConfig(f, m => { m["context_length"] = "big"; m["vocab_size"] = -5; })), false, "genai_config.json",
            "model.context_length must be a positive integer, got \"big\" (string)", "model.vocab_size must be a positive integer, got -5 (number)"),
        new("config-not-an-object", dir => Tiny(dir, f => System.IO.File.WriteAllText(Path.Combine(f, "genai_config.json"), "[1, 2]")), false, "genai_config.json",
            "must be a JSON object with a \"model\" object"),
        new("missing-decoder-fields", dir => Tiny(dir, f => OnnxManagers.EditConfig(f, m => { m["decoder"]!.AsObject().Remove("head_size"); m["decoder"]!["num_hidden_layers"] = new JsonArray(); })), false, "genai_config.json",
            "model.decoder.num_hidden_layers must be a positive integer, got [] (array)", "model.decoder.head_size must be a positive integer, got nothing (the key is missing)"),
        new("decoder-file-missing", dir => Tiny(dir, f => OnnxManagers.EditConfig(f, m => m["decoder"]!["filename"] = "model.onnx")), false, "model.onnx",
            "not found; it is named by model.decoder.filename in genai_config.json"),
        new("missing-tokenizer", dir => Tiny(dir, f => System.IO.File.Delete(Path.Combine(f, "tokenizer.json"))), false, "tokenizer.json",
            "not found; it is needed by the tokenizer"),
        new("plain-checkpoint", PlainCheckpoint, false, "genai_config.json",
            "holds a plain Hugging Face checkpoint (config.json, model.safetensors)", "Convert it first", "python -m onnxruntime_genai.models.builder -m "),
        new("empty-folder", dir => Directory.CreateDirectory(Path.Combine(dir, "empty")).FullName, false, "genai_config.json",
            "not found: the folder is empty"),
        new("directory-instead-of-file", dir => Tiny(dir, f =>
        {
            System.IO.File.Delete(Path.Combine(f, "tokenizer_config.json"));
            Directory.CreateDirectory(Path.Combine(f, "tokenizer_config.json"));
        }), false, "tokenizer_config.json", "is a directory, not a file"),
        new("genai-config-is-a-directory", dir => Tiny(dir, f =>
        {
            System.IO.File.Delete(Path.Combine(f, "genai_config.json"));
            Directory.CreateDirectory(Path.Combine(f, "genai_config.json"));
        }), false, "genai_config.json", "is a directory, not a file"),
        new("empty-onnx", dir => Tiny(dir, f => System.IO.File.WriteAllBytes(Path.Combine(f, "past.onnx"), [])), false, "past.onnx",
            "is empty (0 bytes)"),
        new("missing-external-data", dir => Tiny(dir, f => System.IO.File.WriteAllBytes(Path.Combine(f, "past.onnx"), OnnxTestModels.ModelWithExternalData("past.onnx.data", OnnxTestModels.Float))), false, "past.onnx.data",
            "not found; it holds external data of past.onnx"),
        new("path-is-a-file", dir => Path.Combine(Tiny(dir, _ => { }), "past.onnx"), false, "past.onnx",
            "is a file, not a model folder"),
        new("missing-folder", dir => Path.Combine(dir, "nowhere"), false, "nowhere",
            "folder not found"),
        new("truncated-onnx", dir => Tiny(dir, f => Truncate(Path.Combine(f, "past.onnx"))), true, "",
            "while loading past.onnx", "Protobuf parsing failed"),
        new("random-bytes-onnx", dir => Tiny(dir, f => System.IO.File.WriteAllBytes(Path.Combine(f, "past.onnx"), RandomBytes(200_000))), true, "",
            "while loading past.onnx", "failed"),
        new("corrupt-tokenizer", dir => Tiny(dir, f => System.IO.File.WriteAllText(Path.Combine(f, "tokenizer.json"), "this is not a tokenizer")), true, "",
            "while loading the tokenizer"),
    ];

    private static string Tiny(string dir, Action<string> damage)
    {
        var folder = OnnxManagers.CopyTiny();
        var target = Path.Combine(dir, Guid.NewGuid().ToString("N")[..8]);
        Directory.Move(folder, target);
        damage(target);
        return target;
    }

    private static string PlainCheckpoint(string dir)
    {
        var folder = Directory.CreateDirectory(Path.Combine(dir, "hf-checkpoint")).FullName;
        System.IO.File.WriteAllText(Path.Combine(folder, "config.json"), """{ "model_type": "gpt2", "vocab_size": 1000 }""");
        System.IO.File.WriteAllBytes(Path.Combine(folder, "model.safetensors"), new byte[64]);
        System.IO.File.WriteAllText(Path.Combine(folder, "tokenizer.json"), "{}");
        return folder;
    }

    private static void Truncate(string path)
    {
        var bytes = System.IO.File.ReadAllBytes(path);
        System.IO.File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
    }

    private static byte[] RandomBytes(int count)
    {
        var bytes = new byte[count];
        new Random(42).NextBytes(bytes);
        return bytes;
    }
}
