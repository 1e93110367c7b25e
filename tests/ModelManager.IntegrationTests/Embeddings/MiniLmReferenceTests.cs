using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace ModelManager.IntegrationTests;

/// <summary>The keyed generator over all-MiniLM-L6-v2 reproduces shared/models/README.md's reference vectors and cosines.</summary>
public sealed class MiniLmReferenceTests : IAsyncLifetime
{
    private ServiceProvider? _services;

    private IEmbeddingGenerator<string, Embedding<float>> Generator => _services!.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("Memory");

    public Task InitializeAsync()
    {
        if (SharedModels.IsCi || SharedModels.Exists(EmbeddingManagers.MiniLmMarker))
        {
            _services = EmbeddingManagers.CreateMiniLm().Services;
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

    public static TheoryData<string, float[]> References => new()
    {
        { "Once upon a time", [-0.08655f, 0.01082f, -0.00435f, 0.06927f, -0.01506f, 0.00784f] },
        { "The quick brown fox jumps over the lazy dog.", [0.04393f, 0.05893f, 0.04818f, 0.07755f, 0.02674f, -0.03763f] },
        { "A man is playing a guitar.", [0.02166f, -0.00486f, -0.00965f, -0.06340f, -0.16749f, 0.00468f] },
    };

    [SharedModelTheory(EmbeddingManagers.MiniLmMarker)]
    [MemberData(nameof(References))]
    public async Task GenerateAsync_ReferenceText_MatchesTheReferenceVector(string text, float[] reference)
    {
        var embedding = (await Generator.GenerateAsync([text])).Single();

        Assert.Equal(384, embedding.Vector.Length);
        var first = embedding.Vector.Span[..reference.Length];
        Assert.True(EmbeddingManagers.Cosine(first, reference) >= 0.9999, $"cosine {EmbeddingManagers.Cosine(first, reference):F6}: [{string.Join(", ", first.ToArray().Select(v => v.ToString("F5", System.Globalization.CultureInfo.InvariantCulture)))}]");
        for (var i = 0; i < reference.Length; i++)
        {
            Assert.Equal(reference[i], first[i], 1e-4f);
        }

        Assert.Equal(1.0, Math.Sqrt(embedding.Vector.ToArray().Sum(v => (double)v * v)), 1e-5);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task GenerateAsync_ReferencePairs_HaveTheReferenceCosinesAndSemanticOrder()
    {
        var e = await Generator.GenerateAsync(["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell sharply today."]);

        var instrument = EmbeddingManagers.Cosine(e[0], e[1]);
        var market = EmbeddingManagers.Cosine(e[0], e[2]);
        Assert.Equal(0.6674, instrument, 1e-3);
        Assert.Equal(-0.0540, market, 1e-3);
        Assert.True(instrument > market);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task GenerateAsync_OneBatch_EqualsSingleCalls()
    {
        string[] texts = ["Once upon a time", "A man is playing a guitar.", "short", "The quick brown fox jumps over the lazy dog. " + string.Join(' ', Enumerable.Repeat("again", 40))];

        var batch = await Generator.GenerateAsync(texts);
        for (var i = 0; i < texts.Length; i++)
        {
            var single = (await Generator.GenerateAsync([texts[i]])).Single();
            Assert.True(EmbeddingManagers.Cosine(single, batch[i]) > 0.99999, $"text {i}: padding changed its embedding");
        }
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task Tokenizer_LowerCasesAndStripsAccents_AsBertBaseUncased()
    {
        var e = await Generator.GenerateAsync(["Café Läuft NAÏVE", "cafe lauft naive", "cafe lauft naive!"]);

        Assert.Equal(e[1].Vector.ToArray(), e[0].Vector.ToArray());
        Assert.NotEqual(e[1].Vector.ToArray(), e[2].Vector.ToArray());
    }
}
