using System.Security.Cryptography;
using System.Text;
using LLama;
using LLama.Common;
using LLama.Sampling;

namespace ModelManager.IntegrationTests;

public sealed class SyntheticGgufWriterTests : IDisposable
{
    private const string ChatMl =
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    private readonly string _scratch = TestCache.NewScratchDirectory();

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Theory]
    [InlineData(1_000_000)]
    [InlineData(20_000_000)]
    [InlineData(120_000_000)]
    public void GetOrCreate_TargetSize_WithinFivePercentAndReadBackWithTheSameHyperparameters(long target)
    {
        var options = new SyntheticGgufOptions { TargetBytes = target, Seed = 1 };
        var shape = SyntheticGgufWriter.Plan(options);

        string path = TestCache.Model(options);
        var info = GgufReader.Read(path);

        long size = new FileInfo(path).Length;
        Assert.Equal(shape.FileBytes, size);
        Assert.InRange(size, target * 0.95, target * 1.05);
        Assert.Equal("llama", info.Architecture);
        Assert.Equal(shape.EmbeddingLength, info.EmbeddingLength);
        Assert.Equal(shape.BlockCount, info.BlockCount);
        Assert.Equal(shape.FeedForwardLength, info.FeedForwardLength);
        Assert.Equal(shape.HeadCount, info.HeadCount);
        Assert.Equal(shape.HeadCountKv, info.HeadCountKv);
        Assert.Equal(shape.VocabSize, info.VocabSize);
        Assert.Equal(shape.ContextLength, info.ContextLength);
        Assert.Equal(shape.TensorBytes, info.TensorBytes);
        Assert.Equal(shape.ParameterCount, info.Tensors.Sum(t => t.ElementCount));
        Assert.Equal(SyntheticGgufWriter.MinimalVocabularySize, info.VocabSize);
    }

    [Fact]
    public void Write_SameOptions_GivesIdenticalBytes_AndAnotherSeedDoesNot()
    {
        var options = new SyntheticGgufOptions { TargetBytes = 300_000, Seed = 11 };

        string a = SyntheticGgufWriter.Write(Path.Combine(_scratch, "a.gguf"), options);
        string b = SyntheticGgufWriter.Write(Path.Combine(_scratch, "b.gguf"), options);
        string c = SyntheticGgufWriter.Write(Path.Combine(_scratch, "c.gguf"), options with { Seed = 12 });

        Assert.Equal(Hash(a), Hash(b));
        Assert.NotEqual(Hash(a), Hash(c));
        Assert.Equal(new FileInfo(a).Length, new FileInfo(c).Length);
    }

    [Fact]
    public void GetOrCreate_ExistingFile_IsReusedWithoutRewriting()
    {
        var options = new SyntheticGgufOptions { TargetBytes = 150_000, Seed = 5 };

        string first = SyntheticGgufWriter.GetOrCreate(_scratch, options);
        var written = File.GetLastWriteTimeUtc(first);
        string second = SyntheticGgufWriter.GetOrCreate(_scratch, options);
        string other = SyntheticGgufWriter.GetOrCreate(_scratch, options with { ContextLength = 1024 });

        Assert.Equal(first, second);
        Assert.Equal(written, File.GetLastWriteTimeUtc(second));
        Assert.NotEqual(first, other);
        Assert.Empty(Directory.GetFiles(_scratch, "*.tmp"));
    }

    [Fact]
    public async Task Write_Model_LoadsAndGeneratesGreedilyWithLlamaSharp()
    {
        string path = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 20_000_000, Seed = 1 });
        var info = GgufReader.Read(path);
        var parameters = new ModelParams(path) { ContextSize = 256, GpuLayerCount = 0 };

        using var weights = LLamaWeights.LoadFromFile(parameters);
        var executor = new StatelessExecutor(weights, parameters);
        var pieces = new List<string>();
        await foreach (string piece in executor.InferAsync("Hello, world", new InferenceParams { MaxTokens = 8, SamplingPipeline = new GreedySamplingPipeline() }))
        {
            pieces.Add(piece);
        }

        // Only '▁' and printable ASCII have non-zero output rows, so greedy decoding never stops early.
        Assert.Equal(8, pieces.Count);
        Assert.All(string.Concat(pieces), ch => Assert.InRange(ch, ' ', '~'));
        Assert.Equal((ulong)info.TensorBytes, weights.SizeInBytes);
        Assert.Equal((ulong)info.Tensors.Sum(t => t.ElementCount), weights.ParameterCount);
        Assert.Equal(info.VocabSize, weights.Vocab.Count);
    }

    [Fact]
    public void Write_Tokenizer_RoundTripsArbitraryTextThroughByteFallback()
    {
        string path = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 1_000_000, Seed = 1 });
        using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { GpuLayerCount = 0 });
        const string text = "Hello, wörld! ✓ 日本語\n\ttabs & <tags> \u0001";

        var tokens = weights.Tokenize(text, add_bos: false, special: false, Encoding.UTF8);
        var decoder = new StreamingTokenDecoder(Encoding.UTF8, weights);
        decoder.AddRange(tokens);
        string decoded = decoder.Read();

        // SentencePiece adds a leading '▁' (a space) to the text.
        Assert.Equal(" " + text, decoded);
        Assert.True(tokens.Length > text.Length, "non-ASCII characters should fall back to one token per byte");
    }

    [Fact]
    public void Write_ChatTemplate_IsWhatLlamaSharpAndTheReaderSee()
    {
        string path = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 1_000_000, Seed = 2, ChatTemplate = ChatMl });
        var info = GgufReader.Read(path);

        using var weights = LLamaWeights.LoadFromFile(new ModelParams(path) { GpuLayerCount = 0 });
        var template = new LLamaTemplate(weights) { AddAssistant = true };
        template.Add("user", "hi");
        string applied = Encoding.UTF8.GetString(template.Apply());

        Assert.Equal(ChatMl, info.ChatTemplate);
        Assert.Equal(ChatMl, weights.NativeHandle.GetTemplate());
        Assert.Equal(ChatMl, weights.Metadata["tokenizer.chat_template"]);
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", applied);
    }

    [Fact]
    public void Write_WithoutTemplate_WritesNoneAndTheDefaultName()
    {
        string path = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 1_000_000, Seed = 1 });

        var info = GgufReader.Read(path);

        Assert.Null(info.ChatTemplate);
        Assert.Equal("synthetic", info.Name);
    }

    private static string Hash(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream));
    }
}
