using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;
using SdkFinishReason = OpenAI.Chat.ChatFinishReason;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>ModelServer's <c>usage</c>, <c>finish_reason</c> and <c>stream_options.include_usage</c>, read by the official SDK and as raw JSON.</summary>
public sealed class ModelServerUsageTests
{
    private const string Prompt = "Once upon a time there was";

    // The fake ends a generation by itself after 3 tokens (EndOfSequence); max_tokens 2 cuts it first (MaxTokens).
    private static string Config => """
        { "max_memory_mb": 512, "models": [ { "name": "eos", "type": "fake", "parameters": { "max_tokens": 8, "eos_after": 3 } } ] }
        """;

    [Fact]
    public async Task ChatCompletions_Sdk_ReadsUsageAndFinishReason_AsTheManagersChatClientReportsThem()
    {
        await using var server = await ModelServerHost.StartAsync(Config);
        var client = new ChatClient("eos", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 });
        var local = server.Manager.GetModel("eos").AsChatClient();

        var cut = (await client.CompleteChatAsync([new UserChatMessage(Prompt)], new ChatCompletionOptions { MaxOutputTokenCount = 2 })).Value;
        var whole = (await client.CompleteChatAsync([new UserChatMessage(Prompt)])).Value;
        var localCut = await local.GetResponseAsync([new ChatMessage(ChatRole.User, Prompt)], new ChatOptions { MaxOutputTokens = 2 });
        var localWhole = await local.GetResponseAsync([new ChatMessage(ChatRole.User, Prompt)]);

        Assert.Equal(SdkFinishReason.Length, cut.FinishReason);
        Assert.Equal(SdkFinishReason.Stop, whole.FinishReason);
        Assert.Equal(2, cut.Usage.OutputTokenCount);
        Assert.Equal(3, whole.Usage.OutputTokenCount);
        Assert.True(cut.Usage.InputTokenCount > 0);
        Assert.Equal(localCut.Usage!.InputTokenCount, cut.Usage.InputTokenCount);
        Assert.Equal(localCut.Usage.OutputTokenCount, cut.Usage.OutputTokenCount);
        Assert.Equal(localWhole.Usage!.InputTokenCount, whole.Usage.InputTokenCount);
        Assert.Equal(localWhole.Usage.OutputTokenCount, whole.Usage.OutputTokenCount);
        Assert.Equal(cut.Usage.InputTokenCount + cut.Usage.OutputTokenCount, cut.Usage.TotalTokenCount);
        Assert.Equal(0, cut.Usage.InputTokenDetails.CachedTokenCount);
    }

    [Fact]
    public async Task ChatCompletions_SdkStreaming_CarriesUsageOnTheLastUpdateOnly()
    {
        await using var server = await ModelServerHost.StartAsync(Config);
        var client = new ChatClient("eos", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 });
        var expected = await server.Manager.GetModel("eos").AsChatClient().GetResponseAsync([new ChatMessage(ChatRole.User, Prompt)], new ChatOptions { MaxOutputTokens = 2 });

        var updates = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(Prompt)], new ChatCompletionOptions { MaxOutputTokenCount = 2 }))
        {
            updates.Add(update);
        }

        var withUsage = updates.Where(u => u.Usage is not null).ToList();
        Assert.Single(withUsage);
        Assert.Same(updates[^1], withUsage[0]);
        Assert.Equal(expected.Usage!.InputTokenCount, withUsage[0].Usage.InputTokenCount);
        Assert.Equal(2, withUsage[0].Usage.OutputTokenCount);
        Assert.Equal(withUsage[0].Usage.InputTokenCount + 2, withUsage[0].Usage.TotalTokenCount);
        Assert.Equal(SdkFinishReason.Length, updates.Single(u => u.FinishReason is not null).FinishReason);
        Assert.Equal(expected.Text, string.Concat(updates.SelectMany(u => u.ContentUpdate).Select(p => p.Text)));
    }

    [Theory]
    [InlineData(2, "length")]
    [InlineData(null, "stop")]
    public async Task Completions_Usage_EqualsGenerateResultAsync(int? maxTokens, string finishReason)
    {
        await using var server = await ModelServerHost.StartAsync(Config);
        using var http = new HttpClient { BaseAddress = server.Address };
        var expected = await server.Manager.GetModel("eos").GenerateResultAsync(Prompt, new GenerationOptions { MaxTokens = maxTokens });

        using var response = await http.PostAsync("v1/completions", Json(new { model = "eos", prompt = Prompt, max_tokens = maxTokens }));
        response.EnsureSuccessStatusCode();
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var usage = json.RootElement.GetProperty("usage");

        Assert.Equal(finishReason, json.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(expected.Text, json.RootElement.GetProperty("choices")[0].GetProperty("text").GetString());
        Assert.True(expected.Outcome.PromptTokens > 0);
        Assert.Equal(expected.Outcome.PromptTokens, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(expected.Outcome.GeneratedTokens, usage.GetProperty("completion_tokens").GetInt32());
        Assert.Equal(expected.Outcome.TotalTokens, usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(0, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Equal(maxTokens ?? 3, expected.Outcome.GeneratedTokens);
    }

    [Theory]
    [InlineData("v1/completions")]
    [InlineData("v1/chat/completions")]
    public async Task Streaming_IncludeUsage_EndsWithAUsageChunkWithoutChoices_BeforeDone(string path)
    {
        await using var server = await ModelServerHost.StartAsync(Config);
        using var http = new HttpClient { BaseAddress = server.Address };
        var expected = await server.Manager.GetModel("eos").GenerateResultAsync(Prompt, new GenerationOptions { MaxTokens = 2 });
        object request = path == "v1/completions"
            ? new { model = "eos", prompt = Prompt, max_tokens = 2, stream = true, stream_options = new { include_usage = true } }
            : new { model = "eos", messages = new[] { new { role = "user", content = Prompt } }, max_tokens = 2, stream = true, stream_options = new { include_usage = true } };
        object plain = path == "v1/completions"
            ? new { model = "eos", prompt = Prompt, max_tokens = 2, stream = true }
            : new { model = "eos", messages = new[] { new { role = "user", content = Prompt } }, max_tokens = 2, stream = true };

        var chunks = await ReadChunksAsync(http, path, request);
        var plainChunks = await ReadChunksAsync(http, path, plain);

        var last = chunks[^1];
        Assert.Equal(0, last.GetProperty("choices").GetArrayLength());
        Assert.Equal(2, last.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
        Assert.Equal(last.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() + 2, last.GetProperty("usage").GetProperty("total_tokens").GetInt32());
        Assert.Equal(0, last.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.All(chunks[..^1], c => Assert.Equal(JsonValueKind.Null, c.GetProperty("usage").ValueKind));
        Assert.Equal("length", chunks[^2].GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        Assert.Equal(chunks.Count - 1, plainChunks.Count);
        Assert.All(plainChunks, c => Assert.False(c.TryGetProperty("usage", out _), "no usage without include_usage"));
        if (path == "v1/completions")
        {
            Assert.Equal(expected.Outcome.PromptTokens, last.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        }
    }

    [Theory]
    [InlineData("""{ "model": "eos", "prompt": "x", "stream": true, "stream_options": { "include_obfuscation": true } }""", "stream_options.include_obfuscation")]
    [InlineData("""{ "model": "eos", "prompt": "x", "stream_options": { "include_usage": true } }""", "stream_options")]
    [InlineData("""{ "model": "eos", "prompt": "x", "stream": true, "stream_options": true }""", "stream_options")]
    [InlineData("""{ "model": "eos", "prompt": "x", "stream": true, "stream_options": { "include_usage": true }, "echo": true }""", "echo")]
    public async Task StreamOptions_OnlyIncludeUsageWithStream_AnythingElseIsA400(string body, string param)
    {
        await using var server = await ModelServerHost.StartAsync(Config);
        using var http = new HttpClient { BaseAddress = server.Address };

        using var response = await http.PostAsync("v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(param, json.RootElement.GetProperty("error").GetProperty("param").GetString());
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task CachedTokens_AreThePromptTokensThePromptCacheSupplied()
    {
        await using var server = await ModelServerHost.StartAsync($$"""{ "max_memory_mb": 256, "models": [ {{GgufManagers.Stories()}} ] }""");
        using var http = new HttpClient { BaseAddress = server.Address };
        var system = new { role = "system", content = string.Join(" ", Enumerable.Repeat("Lily and Tom played in the park with a big red ball.", 6)) };

        async Task<JsonElement> UsageOf(string question)
        {
            using var response = await http.PostAsync("v1/chat/completions", Json(new { model = "stories", messages = new object[] { system, new { role = "user", content = question } }, max_tokens = 4 }));
            response.EnsureSuccessStatusCode();
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return json.RootElement.GetProperty("usage").Clone();
        }

        var first = await UsageOf("Where is the dog?");
        var second = await UsageOf("What did the cat find?");

        Assert.Equal(0, first.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        var cached = second.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32();
        Assert.InRange(cached, first.GetProperty("prompt_tokens").GetInt32() / 2, second.GetProperty("prompt_tokens").GetInt32() - 1);
        Assert.Equal(cached, server.Manager.GetModelStats()["stories"].PromptCache!.ReusedTokens);
    }

    private static StringContent Json(object body) => new(JsonSerializer.Serialize(body), Encoding.UTF8, "application/json");

    private static async Task<List<JsonElement>> ReadChunksAsync(HttpClient http, string path, object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = Json(body) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var chunks = new List<JsonElement>();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            var data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                return chunks;
            }

            chunks.Add(JsonDocument.Parse(data).RootElement.Clone());
        }

        throw new InvalidOperationException("the stream ended without data: [DONE]");
    }
}
