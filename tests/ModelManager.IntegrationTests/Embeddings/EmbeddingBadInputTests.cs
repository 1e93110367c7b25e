using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.IntegrationTests;

/// <summary>Bad texts, options and folders give a typed error or the documented behaviour, never a crash.</summary>
public sealed class EmbeddingBadInputTests : IAsyncLifetime
{
    private ServiceProvider? _services;
    private IModelManager? _manager;

    private IEmbeddingGenerator<string, Embedding<float>> Generator => _manager!.GetEmbeddingGenerator("minilm");

    public Task InitializeAsync()
    {
        if (SharedModels.IsCi || SharedModels.Exists(EmbeddingManagers.MiniLmMarker))
        {
            (_services, _manager) = EmbeddingManagers.CreateMiniLm();
        }

        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task EmptyString_EmbedsAsClsSep_AUnitVector()
    {
        var result = await Generator.GenerateAsync(["", "Once upon a time"]);

        Assert.Equal(2 + 6, result.Usage!.InputTokenCount); // [CLS] [SEP], and [CLS] once upon a time [SEP]
        var empty = result[0].Vector.ToArray();
        Assert.Equal(384, empty.Length);
        Assert.Equal(1.0, Math.Sqrt(empty.Sum(v => (double)v * v)), 1e-5);
        Assert.True(EmbeddingManagers.Cosine(result[0], result[1]) < 0.99);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task NoValues_ReturnsNothing_WithoutLoading()
    {
        var result = await Generator.GenerateAsync([]);

        Assert.Empty(result);
        Assert.Equal(0, result.Usage!.InputTokenCount);
        Assert.Equal(0, _manager!.GetModelStats()["minilm"].LoadCount);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task TenThousandCharacters_AreCutAtTheContextLength()
    {
        var words = string.Join(' ', Enumerable.Range(0, 3000).Select(i => (i % 7) switch { 0 => "guitar", 1 => "music", 2 => "plays", 3 => "man", 4 => "a", 5 => "the", _ => "song" }));
        var text = words[..10_000];
        var result = await Generator.GenerateAsync([text, text + " but the stock market fell sharply today and nothing else matters"]);

        Assert.Equal(2 * 256, result.Usage!.InputTokenCount); // context_length 256: [CLS] + 254 word pieces + [SEP], each
        Assert.Equal(result[0].Vector.ToArray(), result[1].Vector.ToArray()); // the tail beyond the cut changes nothing

        // Twenty million characters (words, then a long run of spaces and one more word) embed as their head does.
        var huge = string.Concat(Enumerable.Repeat(text + " ", 2000)) + new string(' ', 1000) + "tail";
        var head = (await Generator.GenerateAsync([huge])).Single();
        Assert.Equal(result[0].Vector.ToArray(), head.Vector.ToArray());
    }

    [Theory]
    [InlineData("a b c d", 2, "a b ")]
    [InlineData("  a   b  ", 2, "  a   b  ")]
    [InlineData("a\tb\nc", 1, "a\t")]
    [InlineData("", 3, "")]
    [InlineData("one two", 1, "one ")]
    public void CutAfterWords_KeepsTheFirstWordsAndTheirSpacing(string text, int words, string expected)
    {
        Assert.Equal(expected, OnnxEncoderModel.CutAfterWords(text, words));
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task LoneSurrogates_BecomeReplacementCharacters()
    {
        var result = await Generator.GenerateAsync(["guitar \uD800 music \uDC00", "guitar \uFFFD music \uFFFD", "\uD83C\uDFB8 guitar"]);

        Assert.Equal(result[0].Vector.ToArray(), result[1].Vector.ToArray());
        Assert.Equal(384, result[2].Vector.Length); // a valid pair (🎸) stays as it is
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task NullValue_IsArgumentException()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => Generator.GenerateAsync(["ok", null!]));
        Assert.Contains("values[1]", error.Message, StringComparison.Ordinal);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task Dimensions_OtherThanTheModels_IsNotSupported_ItsOwnIsHonoured()
    {
        var error = await Assert.ThrowsAsync<NotSupportedException>(() => Generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 128 }));
        Assert.Contains("'minilm'", error.Message, StringComparison.Ordinal);
        Assert.Contains("384", error.Message, StringComparison.Ordinal);

        var own = await Generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 384 });
        Assert.Equal(384, own.Single().Vector.Length);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { Dimensions = 0 }));
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task UnknownOptions_AreNotSupported_NeverDropped()
    {
        var extra = new EmbeddingGenerationOptions { AdditionalProperties = new() { ["user"] = "me" } };
        Assert.Contains("AdditionalProperties[\"user\"]", (await Assert.ThrowsAsync<NotSupportedException>(() => Generator.GenerateAsync(["x"], extra))).Message, StringComparison.Ordinal);
        var other = new EmbeddingGenerationOptions { ModelId = "text-embedding-3-small" };
        Assert.Contains("ModelId", (await Assert.ThrowsAsync<NotSupportedException>(() => Generator.GenerateAsync(["x"], other))).Message, StringComparison.Ordinal);
        Assert.Equal(384, (await Generator.GenerateAsync(["x"], new EmbeddingGenerationOptions { ModelId = "minilm" })).Single().Vector.Length);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task EncoderFolder_WithoutAVocabulary_IsAFormatErrorNamingTheFile()
    {
        var folder = TestCache.NewScratchDirectory();
        File.CreateSymbolicLink(Path.Combine(folder, "model.onnx"), Path.Combine(EmbeddingManagers.MiniLm, "model.onnx"));
        var (services, manager) = EmbeddingManagers.Create($$"""{ "max_memory_mb": 1024, "models": [ {{EmbeddingManagers.Encoder("novocab", folder)}} ] }""");
        await using var scope = services;

        var error = await Assert.ThrowsAsync<ModelFormatException>(() => manager.GetEmbeddingGenerator("novocab").GenerateAsync(["x"]));
        Assert.Equal(Path.Combine(folder, "vocab.txt"), error.FilePath);
        Assert.Contains("tokenizer.json", error.Message, StringComparison.Ordinal);
        Assert.Contains("'novocab'", error.Message, StringComparison.Ordinal);
        Assert.Equal(ModelState.Unloaded, manager.GetModelStats()["novocab"].State);
    }

    [SharedModelFact(OnnxManagers.TinyMarker)]
    public async Task ModelOnnx_WithADecodersInputs_IsAFormatErrorNamingTheFileAndItsInputs()
    {
        _ = EmbeddingManagers.MiniLm;
        var folder = TestCache.NewScratchDirectory();
        File.CreateSymbolicLink(Path.Combine(folder, "model.onnx"), Path.Combine(OnnxManagers.TinyGpt2, "past.onnx"));
        File.CreateSymbolicLink(Path.Combine(folder, "vocab.txt"), Path.Combine(EmbeddingManagers.MiniLm, "vocab.txt"));
        var (services, manager) = EmbeddingManagers.Create($$"""{ "max_memory_mb": 1024, "models": [ {{EmbeddingManagers.Encoder("decoder", folder)}} ] }""");
        await using var scope = services;

        var error = await Assert.ThrowsAsync<ModelFormatException>(() => manager.GetEmbeddingGenerator("decoder").GenerateAsync(["x"]));
        Assert.Equal(Path.Combine(folder, "model.onnx"), error.FilePath);
        Assert.Contains("int64 [batch, sequence] input 'input_ids'", error.Message, StringComparison.Ordinal);
        Assert.Contains("input_ids: Int32 [", error.Message, StringComparison.Ordinal);
        Assert.Contains("past_0: Single", error.Message, StringComparison.Ordinal);
        Assert.Contains("'decoder'", error.Message, StringComparison.Ordinal);
        var stats = manager.GetModelStats()["decoder"];
        Assert.Equal((ModelState.Unloaded, 1), (stats.State, stats.FailureCount));
        Assert.Equal(0, manager.GetMemoryUsage().TotalMb);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task ModelOnnx_ThatIsNotOnnx_IsALoadErrorNamingTheModel()
    {
        var folder = TestCache.NewScratchDirectory();
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), [0x08, 0x07, 0x12, 0xFF, 0xFF, 0xFF, 0x0F, 1, 2, 3]);
        File.CreateSymbolicLink(Path.Combine(folder, "vocab.txt"), Path.Combine(EmbeddingManagers.MiniLm, "vocab.txt"));
        var (services, manager) = EmbeddingManagers.Create($$"""{ "max_memory_mb": 1024, "models": [ {{EmbeddingManagers.Encoder("garbage", folder)}} ] }""");
        await using var scope = services;

        var error = await Assert.ThrowsAsync<ModelLoadException>(() => manager.GetEmbeddingGenerator("garbage").GenerateAsync(["x"]));
        Assert.Contains("'garbage'", error.Message, StringComparison.Ordinal);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task ModelOnnx_ThatIsAFifo_IsRefusedBeforeItIsOpened()
    {
        var folder = TestCache.NewScratchDirectory();
        File.CreateSymbolicLink(Path.Combine(folder, "vocab.txt"), Path.Combine(EmbeddingManagers.MiniLm, "vocab.txt"));
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", Path.Combine(folder, "model.onnx")))
        {
            await mkfifo.WaitForExitAsync();
        }

        var (services, manager) = EmbeddingManagers.Create($$"""{ "max_memory_mb": 1024, "models": [ {{EmbeddingManagers.Encoder("fifo", folder)}} ] }""");
        await using var scope = services;

        var error = await Assert.ThrowsAsync<ModelFormatException>(() => manager.GetEmbeddingGenerator("fifo").GenerateAsync(["x"]).WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("FIFO", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task TokenizerJson_InsteadOfVocabTxt_GivesTheSameEmbeddings_AndABpeOneIsAFormatError()
    {
        var folder = TestCache.NewScratchDirectory();
        File.CreateSymbolicLink(Path.Combine(folder, "model.onnx"), Path.Combine(EmbeddingManagers.MiniLm, "model.onnx"));
        var vocab = new System.Text.Json.Nodes.JsonObject();
        var lines = await File.ReadAllLinesAsync(Path.Combine(EmbeddingManagers.MiniLm, "vocab.txt"));
        for (var i = 0; i < lines.Length; i++)
        {
            vocab[lines[i]] = i;
        }

        var json = new System.Text.Json.Nodes.JsonObject
        {
            ["normalizer"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "BertNormalizer", ["lowercase"] = true, ["strip_accents"] = null },
            ["model"] = new System.Text.Json.Nodes.JsonObject { ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["vocab"] = vocab },
        };
        await File.WriteAllTextAsync(Path.Combine(folder, "tokenizer.json"), json.ToJsonString());
        var bpe = TestCache.NewScratchDirectory();
        File.CreateSymbolicLink(Path.Combine(bpe, "model.onnx"), Path.Combine(EmbeddingManagers.MiniLm, "model.onnx"));
        File.CreateSymbolicLink(Path.Combine(bpe, "tokenizer.json"), Path.Combine(OnnxManagers.TinyGpt2, "tokenizer.json"));
        var (services, manager) = EmbeddingManagers.Create($$"""
            { "max_memory_mb": 1024, "models": [ {{EmbeddingManagers.Encoder("json", folder)}}, {{EmbeddingManagers.Encoder("bpe", bpe)}} ] }
            """);
        await using var scope = services;

        string[] texts = ["A man is playing a guitar.", "Once upon a time", "Café au lait"];
        var fromJson = await manager.GetEmbeddingGenerator("json").GenerateAsync(texts);
        var fromVocab = await Generator.GenerateAsync(texts);
        for (var i = 0; i < texts.Length; i++)
        {
            Assert.Equal(fromVocab[i].Vector.ToArray(), fromJson[i].Vector.ToArray());
        }

        var error = await Assert.ThrowsAsync<ModelFormatException>(() => manager.GetEmbeddingGenerator("bpe").GenerateAsync(["x"]));
        Assert.Equal(Path.Combine(bpe, "tokenizer.json"), error.FilePath);
        Assert.Contains("only WordPiece", error.Message, StringComparison.Ordinal);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task ModelOnnx_OverItsCap_IsRefusedByItsSize_BeforeItIsRead()
    {
        var folder = TestCache.NewScratchDirectory();
        File.CreateSymbolicLink(Path.Combine(folder, "vocab.txt"), Path.Combine(EmbeddingManagers.MiniLm, "vocab.txt"));
        await using (var sparse = new FileStream(Path.Combine(folder, "model.onnx"), FileMode.CreateNew))
        {
            sparse.SetLength(3L << 30); // 3 GB of holes: over the 2 GB cap, and nothing to read
        }

        var (services, manager) = EmbeddingManagers.Create($$"""{ "max_memory_mb": 1024, "models": [ {{EmbeddingManagers.Encoder("huge", folder)}} ] }""");
        await using var scope = services;

        var error = await Assert.ThrowsAsync<ModelFormatException>(() => manager.GetEmbeddingGenerator("huge").GenerateAsync(["x"]).WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(Path.Combine(folder, "model.onnx"), error.FilePath);
        Assert.Contains("over the cap", error.Message, StringComparison.Ordinal);
    }
}
