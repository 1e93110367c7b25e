using System.Diagnostics;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace ModelManager.IntegrationTests;

/// <summary>
/// The structural tests of dotnet/extensions' <c>Microsoft.Extensions.AI.Integration.Tests/EmbeddingGeneratorIntegrationTests.cs</c>,
/// ported to the keyed <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/> of an agent on all-MiniLM-L6-v2, with their assertions.
/// </summary>
/// <remarks>
/// Ported: one embedding, several embeddings (usage present, <c>ModelId</c> = the metadata's default model id), caching
/// with a call counter, OpenTelemetry, and the dog/cat/fork/spoon comparison of the quantization tests (on the float
/// vectors: upstream quantizes them to Half and bits first, a test of its quantizing generator rather than of the model).
/// Adaptation: upstream checks <c>server.address</c>/<c>server.port</c> against the generator's <c>ProviderUri</c>; an
/// in-process model has none, so the test checks that the tags are absent, as its metadata's null <c>ProviderUri</c> says.
/// Added: the same OpenTelemetry check through the DI pipeline hook (<c>ConfigureEmbeddingGenerators</c>).
/// </remarks>
public sealed class EmbeddingGeneratorIntegrationTests : IAsyncLifetime
{
    private const string Agent = "Memory";
    private readonly string _sourceName = Guid.NewGuid().ToString();
    private ServiceProvider? _services;

    private IEmbeddingGenerator<string, Embedding<float>> CreateEmbeddingGenerator() =>
        _services!.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>(Agent);

    public Task InitializeAsync()
    {
        if (SharedModels.IsCi || SharedModels.Exists(EmbeddingManagers.MiniLmMarker))
        {
            _services = EmbeddingManagers.CreateMiniLm(b => b.ConfigureEmbeddingGenerators((key, g) =>
            {
                if (key == "minilm")
                {
                    g.UseOpenTelemetry(sourceName: _sourceName);
                }
            })).Services;
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
    public async Task GenerateEmbedding_CreatesEmbeddingSuccessfully()
    {
        var generator = CreateEmbeddingGenerator();
        var embeddings = await generator.GenerateAsync(["Using AI with .NET"]);

        Assert.NotNull(embeddings.Usage);
        Assert.NotNull(embeddings.Usage.InputTokenCount);
        Assert.NotNull(embeddings.Usage.TotalTokenCount);
        Assert.Single(embeddings);
        Assert.Equal(generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId, embeddings[0].ModelId);
        Assert.NotEmpty(embeddings[0].Vector.ToArray());
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task GenerateEmbeddings_CreatesEmbeddingsSuccessfully()
    {
        var generator = CreateEmbeddingGenerator();
        var embeddings = await generator.GenerateAsync([
            "Red",
            "White",
            "Blue",
        ]);

        Assert.Equal(3, embeddings.Count);
        Assert.NotNull(embeddings.Usage);
        Assert.NotNull(embeddings.Usage.InputTokenCount);
        Assert.NotNull(embeddings.Usage.TotalTokenCount);
        Assert.All(embeddings, embedding =>
        {
            Assert.Equal(generator.GetService<EmbeddingGeneratorMetadata>()?.DefaultModelId, embedding.ModelId);
            Assert.NotEmpty(embedding.Vector.ToArray());
        });
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task Caching_SameOutputsForSameInput()
    {
        using var generator = CreateEmbeddingGenerator()
            .AsBuilder()
            .UseDistributedCache(new MemoryDistributedCache(Microsoft.Extensions.Options.Options.Create(new MemoryDistributedCacheOptions())))
            .Use(inner => new CallCountingEmbeddingGenerator(inner))
            .Build();

        var input = "Red, White, and Blue";
        var embedding1 = await generator.GenerateAsync(input);
        var embedding2 = await generator.GenerateAsync(input);
        var embedding3 = await generator.GenerateAsync(input + "... and Green");
        var embedding4 = await generator.GenerateAsync(input);

        var callCounter = generator.GetService<CallCountingEmbeddingGenerator>();
        Assert.NotNull(callCounter);

        Assert.Equal(2, callCounter.CallCount);
        Assert.Equal(embedding1.Vector.ToArray(), embedding2.Vector.ToArray());
        Assert.Equal(embedding1.Vector.ToArray(), embedding4.Vector.ToArray());
        Assert.NotEqual(embedding1.Vector.ToArray(), embedding3.Vector.ToArray());
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task OpenTelemetry_CanEmitTracesAndMetrics()
    {
        var sourceName = Guid.NewGuid().ToString();
        var activities = new List<Activity>();
        using var tracerProvider = OpenTelemetry.Sdk.CreateTracerProviderBuilder()
            .AddSource(sourceName)
            .AddInMemoryExporter(activities)
            .Build();

        var embeddingGenerator = CreateEmbeddingGenerator()
            .AsBuilder()
            .UseOpenTelemetry(sourceName: sourceName)
            .Build();

        _ = await embeddingGenerator.GenerateAsync("Hello, world!");

        AssertEmbedActivity(Assert.Single(activities), embeddingGenerator);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task OpenTelemetry_ThroughTheDiPipelineHook_EmitsTheModelsTrace()
    {
        var activities = new List<Activity>();
        using var tracerProvider = OpenTelemetry.Sdk.CreateTracerProviderBuilder()
            .AddSource(_sourceName)
            .AddInMemoryExporter(activities)
            .Build();

        var generator = _services!.GetRequiredKeyedService<IEmbeddingGenerator<string, Embedding<float>>>("minilm");
        _ = await generator.GenerateAsync("Hello, world!");
        _ = await CreateEmbeddingGenerator().GenerateAsync("The agent's key has no pipeline.");

        var activity = Assert.Single(activities);
        AssertEmbedActivity(activity, generator);
        Assert.Equal("minilm", activity.GetTagItem("gen_ai.request.model"));
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task Embeddings_CompareSuccessfully()
    {
        var embeddings = await CreateEmbeddingGenerator().GenerateAsync(["dog", "cat", "fork", "spoon"]);
        Assert.Equal(4, embeddings.Count);

        var distances = new double[embeddings.Count, embeddings.Count];
        for (var i = 0; i < embeddings.Count; i++)
        {
            for (var j = 0; j < embeddings.Count; j++)
            {
                distances[i, j] = EmbeddingManagers.Cosine(embeddings[i], embeddings[j]);
            }
        }

        for (var i = 0; i < embeddings.Count; i++)
        {
            Assert.Equal(1.0, distances[i, i], 0.001);
        }

        Assert.True(distances[0, 1] > distances[0, 2]);
        Assert.True(distances[0, 1] > distances[0, 3]);
        Assert.True(distances[0, 1] > distances[1, 2]);
        Assert.True(distances[0, 1] > distances[1, 3]);

        Assert.True(distances[2, 3] > distances[0, 2]);
        Assert.True(distances[2, 3] > distances[0, 3]);
        Assert.True(distances[2, 3] > distances[1, 2]);
        Assert.True(distances[2, 3] > distances[1, 3]);
    }

    private static void AssertEmbedActivity(Activity activity, IEmbeddingGenerator<string, Embedding<float>> generator)
    {
        Assert.StartsWith("embed", activity.DisplayName);
        Assert.Null(generator.GetService<EmbeddingGeneratorMetadata>()?.ProviderUri); // in process: no server, so no server.* tags
        Assert.Null(activity.GetTagItem("server.address"));
        Assert.Null(activity.GetTagItem("server.port"));
        Assert.NotNull(activity.Id);
        Assert.NotEmpty(activity.Id);
        Assert.NotEqual(0, (int)activity.GetTagItem("gen_ai.usage.input_tokens")!);

        Assert.True(activity.Duration.TotalMilliseconds > 0);
    }

    /// <summary>Counts the calls that reach the model (upstream's test helper of the same name, written here).</summary>
    private sealed class CallCountingEmbeddingGenerator(IEmbeddingGenerator<string, Embedding<float>> inner)
        : DelegatingEmbeddingGenerator<string, Embedding<float>>(inner)
    {
        private int _callCount;

        public int CallCount => _callCount;

        public override Task<GeneratedEmbeddings<Embedding<float>>> GenerateAsync(IEnumerable<string> values, EmbeddingGenerationOptions? options = null,
            CancellationToken cancellationToken = default)
        {
            Interlocked.Increment(ref _callCount);
            return base.GenerateAsync(values, options, cancellationToken);
        }
    }
}
