using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Embeddings;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary><c>POST /v1/embeddings</c> of the ModelServer sample over MiniLM, through the official OpenAI SDK and plain HTTP.</summary>
public sealed class ModelServerEmbeddingsTests
{
    private static string Config => $$"""
        { "max_memory_mb": 1024, "models": [ {{EmbeddingManagers.Encoder("minilm", EmbeddingManagers.MiniLm)}}, {{GgufManagers.Stories("stories")}} ] }
        """;

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task OpenAISdk_EmbeddingClient_GetsTheManagersVectorsAndUsage()
    {
        _ = SharedModels.Stories260K;
        await using var server = await ModelServerHost.StartAsync(Config);
        var client = new EmbeddingClient("minilm", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 });

        var result = await client.GenerateEmbeddingsAsync(["A man is playing a guitar.", "Someone plays an instrument."]);

        var local = await server.Manager.GetEmbeddingGenerator("minilm").GenerateAsync(["A man is playing a guitar.", "Someone plays an instrument."]);
        Assert.Equal(2, result.Value.Count);
        Assert.Equal("minilm", result.Value.Model);
        Assert.Equal(local.Usage!.InputTokenCount, result.Value.Usage.InputTokenCount);
        Assert.Equal(result.Value.Usage.InputTokenCount, result.Value.Usage.TotalTokenCount);
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(i, result.Value[i].Index);
            Assert.Equal(local[i].Vector.ToArray(), result.Value[i].ToFloats().ToArray()); // the SDK asks for base64: exact floats
        }

        // And through M.E.AI's adapter over the SDK, as a remote app would use it.
        var generator = client.AsIEmbeddingGenerator();
        var one = await generator.GenerateAsync(["Once upon a time"]);
        Assert.Equal(-0.08655f, one[0].Vector.Span[0], 1e-4f);
    }

    [SharedModelFact(EmbeddingManagers.MiniLmMarker)]
    public async Task Http_FloatFormat_StringInput_AndErrorsAsOpenAIErrorObjects()
    {
        _ = SharedModels.Stories260K;
        await using var server = await ModelServerHost.StartAsync(Config);
        using var http = new HttpClient { BaseAddress = server.Address };

        using var ok = await PostAsync(http, """{ "model": "minilm", "input": "Once upon a time", "encoding_format": "float" }""");
        Assert.Equal(HttpStatusCode.OK, ok.Status);
        Assert.Equal("list", ok.Body.GetProperty("object").GetString());
        var item = ok.Body.GetProperty("data")[0];
        Assert.Equal("embedding", item.GetProperty("object").GetString());
        Assert.Equal(384, item.GetProperty("embedding").GetArrayLength());
        Assert.Equal(-0.08655, item.GetProperty("embedding")[0].GetDouble(), 1e-4);
        Assert.Equal(6, ok.Body.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());

        using var own = await PostAsync(http, """{ "model": "minilm", "input": ["x"], "dimensions": 384 }""");
        Assert.Equal(HttpStatusCode.OK, own.Status);

        await AssertErrorAsync(http, """{ "model": "minilm", "input": ["x"], "dimensions": 256 }""", HttpStatusCode.BadRequest, "dimensions");
        await AssertErrorAsync(http, """{ "model": "minilm", "input": ["x"], "encoding_format": "int8" }""", HttpStatusCode.BadRequest, "encoding_format");
        await AssertErrorAsync(http, """{ "model": "minilm", "input": [[101, 102]] }""", HttpStatusCode.BadRequest, "input");
        await AssertErrorAsync(http, """{ "model": "minilm", "input": [] }""", HttpStatusCode.BadRequest, "input");
        await AssertErrorAsync(http, """{ "model": "minilm" }""", HttpStatusCode.BadRequest, "input");
        await AssertErrorAsync(http, """{ "model": "stories", "input": "x" }""", HttpStatusCode.BadRequest, "model");
        await AssertErrorAsync(http, """{ "model": "nope", "input": "x" }""", HttpStatusCode.NotFound, "model");
        using var chatOnEncoder = await PostAsync(http, """{ "model": "minilm", "messages": [{ "role": "user", "content": "hi" }] }""", "v1/chat/completions");
        Assert.Equal(HttpStatusCode.BadRequest, chatOnEncoder.Status);
        Assert.Contains("'minilm'", chatOnEncoder.Body.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    private static async Task AssertErrorAsync(HttpClient http, string json, HttpStatusCode status, string param)
    {
        using var response = await PostAsync(http, json);
        Assert.Equal(status, response.Status);
        var error = response.Body.GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.Equal(JsonValueKind.String, error.GetProperty("type").ValueKind);
    }

    private static async Task<Reply> PostAsync(HttpClient http, string json, string path = "v1/embeddings")
    {
        using var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
        var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return new Reply(response.StatusCode, document);
    }

    private sealed class Reply(HttpStatusCode status, JsonDocument document) : IDisposable
    {
        public HttpStatusCode Status { get; } = status;

        public JsonElement Body => document.RootElement;

        public void Dispose() => document.Dispose();
    }
}
