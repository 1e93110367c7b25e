namespace ModelManager.IntegrationTests;

public sealed class OnnxModelFolderTests
{
    [SharedModelFact(OnnxManagers.TinyMarker)]
    public void Read_TinyGpt2_ReadsItsShapeFromGenaiConfig_AndItsKvTypeFromTheOnnxInputs()
    {
        var folder = OnnxModelFolder.Read(OnnxManagers.TinyGpt2, "tiny");

        Assert.Equal("gpt2", folder.ModelType);
        Assert.Equal(512, folder.ContextLength);
        Assert.Equal(1000, folder.VocabSize);
        Assert.Equal((5, 4, 8), (folder.Layers, folder.KeyValueHeads, folder.HeadSize));
        Assert.Equal([98], folder.EosTokenIds);
        Assert.Equal(4, folder.KvElementBytes); // past_0 is float32
        Assert.Equal(Path.Combine(OnnxManagers.TinyGpt2, "past.onnx"), Assert.Single(folder.Files).Path);
        Assert.Equal(OnnxManagers.TinyOnnxBytes, folder.OnnxBytes);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task Estimate_IsOnnxBytesPlusTheKvCacheOfEveryParallelSequence()
    {
        var backend = new OnnxGenAIBackend(Microsoft.Extensions.Options.Options.Create(new OnnxGenAIOptions { DefaultParallel = 3 }));
        var settings = new Dictionary<string, string?> { ["parallel"] = "2" };

        var own = await backend.EstimateBytesAsync(OnnxManagers.Descriptor("tiny", OnnxManagers.TinyGpt2), CancellationToken.None);
        var shorter = await backend.EstimateBytesAsync(OnnxManagers.Descriptor("tiny", OnnxManagers.TinyGpt2, contextLength: 128, settings: settings), CancellationToken.None);

        const long kvPerToken = 5 * 4 * 8 * 2 * 4; // layers × KV heads × head size × (K, V) × float32
        Assert.Equal(OnnxManagers.TinyOnnxBytes + (kvPerToken * 512 * 3), own);
        Assert.Equal(OnnxManagers.TinyOnnxBytes + (kvPerToken * 128 * 2), shorter);
    }

    [Fact]
    public void Read_FindsExternalDataFiles_CountsThem_AndReadsAFloat16KvCache()
    {
        var folder = SyntheticFolder(OnnxTestModels.ModelWithExternalData("weights/decoder.data", OnnxTestModels.Float16));
        Directory.CreateDirectory(Path.Combine(folder, "weights"));
        File.WriteAllBytes(Path.Combine(folder, "weights", "decoder.data"), new byte[12_345]);

        var read = OnnxModelFolder.Read(folder, "synthetic");

        Assert.Equal(2, read.Files.Count);
        Assert.Equal(Path.Combine(folder, "weights", "decoder.data"), read.Files[1].Path);
        Assert.Equal(new FileInfo(Path.Combine(folder, "decoder.onnx")).Length + 12_345, read.OnnxBytes);
        Assert.Equal(2, read.KvElementBytes);
        Assert.Equal(2L * 2 * 16 * 100 * 2 * 2, read.KvCacheBytes(100));
        Assert.Equal([1, 2], read.EosTokenIds);
    }

    [Fact]
    public void Scan_NeverJudgesAFile_ItStopsQuietlyOnBadFraming()
    {
        var folder = TestCache.NewScratchDirectory();
        var full = OnnxTestModels.ModelWithExternalData("x.data", OnnxTestModels.Float16);
        var cut = Path.Combine(folder, "cut.onnx");
        File.WriteAllBytes(cut, full[..(full.Length - 7)]);
        var junk = Path.Combine(folder, "junk.onnx");
        File.WriteAllBytes(junk, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]);

        Assert.Empty(OnnxFileScanner.Scan(cut, ["past"]).ExternalDataLocations);
        var scrambled = OnnxFileScanner.Scan(junk, ["past"]);
        Assert.Empty(scrambled.ExternalDataLocations);
        Assert.Equal(0, scrambled.KvElementBytes);
        Assert.Equal(["x.data"], OnnxFileScanner.Scan(Write(folder, "whole.onnx", full), ["past"]).ExternalDataLocations);
    }

    [Fact]
    public async Task Validate_WarnsAboutABrokenFolder_ButErrsOnlyOnSettings()
    {
        var folder = SyntheticFolder(OnnxTestModels.ModelWithExternalData("missing.data", OnnxTestModels.Float));
        var backend = new OnnxGenAIBackend();
        var context = new ModelValidationContext();

        backend.Validate(OnnxManagers.Descriptor("broken", folder, settings: new Dictionary<string, string?> { ["parallel"] = "0", ["providers:0"] = " " }), context);
        backend.Validate(OnnxManagers.Descriptor("long", SyntheticFolder(OnnxTestModels.ModelWithExternalData("d", OnnxTestModels.Float), withData: "d"), contextLength: 4096), context);

        Assert.Contains(context.Warnings, w => w.StartsWith("models[0].path:", StringComparison.Ordinal) && w.Contains("missing.data: not found", StringComparison.Ordinal));
        Assert.Contains("models[0].parallel: must be between 1 and 256", context.Errors);
        Assert.Contains("models[0].providers[0]: must name an execution provider, e.g. \"cuda\"", context.Errors);
        Assert.Contains(context.Errors, e => e.StartsWith("models[0].context_length: 4096 is more than model 'long' supports: its genai_config.json has context_length 2048", StringComparison.Ordinal));
        Assert.Equal(3, context.Errors.Count);
        await Assert.ThrowsAsync<ModelFormatException>(() => backend.EstimateBytesAsync(OnnxManagers.Descriptor("broken", folder), CancellationToken.None).AsTask());
    }

    private static string SyntheticFolder(byte[] onnx, string? withData = null)
    {
        var folder = TestCache.NewScratchDirectory();
        File.WriteAllText(Path.Combine(folder, "genai_config.json"), """
            { "model": { "type": "llama", "context_length": 2048, "vocab_size": 32000, "eos_token_id": [1, 2],
              "decoder": { "filename": "decoder.onnx", "num_hidden_layers": 2, "num_key_value_heads": 2, "head_size": 16,
                           "inputs": { "past_key_names": "past_key_values.%d.key", "past_names": "past_%d" } } } }
            """);
        File.WriteAllBytes(Path.Combine(folder, "decoder.onnx"), onnx);
        File.WriteAllText(Path.Combine(folder, "tokenizer.json"), "{}");
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), "{}");
        if (withData is not null)
        {
            File.WriteAllBytes(Path.Combine(folder, withData), new byte[10]);
        }

        return folder;
    }

    private static string Write(string folder, string name, byte[] bytes)
    {
        var path = Path.Combine(folder, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }
}
