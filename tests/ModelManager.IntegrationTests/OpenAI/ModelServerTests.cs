using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Models;
using ChatMessage = Microsoft.Extensions.AI.ChatMessage;
using SdkFinishReason = OpenAI.Chat.ChatFinishReason;

namespace ModelManager.IntegrationTests.OpenAI;

/// <summary>The ModelServer sample, driven over loopback HTTP by the official OpenAI .NET SDK (and plain HttpClient where the SDK has no client).</summary>
public sealed class ModelServerTests
{
    private static readonly string[] Prompts = ["Once upon a time", "The little dog", "One day, Lily"];

    private static string StoriesConfig => $$"""
        { "max_memory_mb": 512, "models": [ {{GgufManagers.Stories()}}, {{RemoteManagers.Fake("small", sizeMb: 8)}} ] }
        """;

    private static string FakeConfig => $$"""
        { "max_memory_mb": 512, "models": [
            {{RemoteManagers.Fake("small", sizeMb: 8)}},
            {{RemoteManagers.Fake("slow", tokenDelayMs: 20, maxTokens: 2000)}},
            {{RemoteManagers.Fake("huge", sizeMb: 4096)}} ] }
        """;

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task ChatCompletions_GreedyOverHttp_EqualsTheInProcessOutput_StreamingIncluded()
    {
        await using var server = await ModelServerHost.StartAsync(StoriesConfig);
        var client = new ChatClient("stories", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 });
        var local = server.Manager.GetModel("stories").AsChatClient();

        foreach (var prompt in Prompts)
        {
            var localResponse = await local.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)], new ChatOptions { Temperature = 0, MaxOutputTokens = 40 });
            var expected = localResponse.Text;

            // 40 tokens may end the story first (stop) or cut it (length): the wire says what the model said.
            var expectedFinish = localResponse.FinishReason == Microsoft.Extensions.AI.ChatFinishReason.Length ? SdkFinishReason.Length : SdkFinishReason.Stop;

            var completion = (await client.CompleteChatAsync([new UserChatMessage(prompt)], new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40 })).Value;
            var streamed = new StringBuilder();
            var updates = 0;
            SdkFinishReason? finish = null;
            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(prompt)], new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40 }))
            {
                foreach (var part in update.ContentUpdate)
                {
                    streamed.Append(part.Text);
                    updates++;
                }

                if (update.FinishReason is { } reason)
                {
                    finish = reason;
                }
            }

            Assert.True(expected.Length > 20, $"too short to compare: «{expected}»");
            Assert.Equal(expected, completion.Content[0].Text);
            Assert.Equal("stories", completion.Model);
            Assert.Equal(expectedFinish, completion.FinishReason);
            Assert.Equal(localResponse.Usage!.InputTokenCount, completion.Usage.InputTokenCount);
            Assert.Equal(localResponse.Usage.OutputTokenCount, completion.Usage.OutputTokenCount);
            Assert.Equal(expected, streamed.ToString());
            Assert.True(updates > 5, $"streamed in {updates} pieces");
            Assert.Equal(expectedFinish, finish);
        }
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Completions_GreedyOverHttp_EqualsGenerateAsync_StreamingIncluded()
    {
        await using var server = await ModelServerHost.StartAsync(StoriesConfig);
        using var http = new HttpClient { BaseAddress = server.Address };
        var model = server.Manager.GetModel("stories");

        foreach (var prompt in Prompts)
        {
            var result = await model.GenerateResultAsync(prompt, new GenerationOptions { Temperature = 0, MaxTokens = 40 });
            var expected = result.Text;
            var body = JsonSerializer.Serialize(new { model = "stories", prompt, temperature = 0, max_tokens = 40 });

            using var response = await http.PostAsync("v1/completions", new StringContent(body, Encoding.UTF8, "application/json"));
            response.EnsureSuccessStatusCode();
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var choice = json.RootElement.GetProperty("choices")[0];

            var streamBody = JsonSerializer.Serialize(new { model = "stories", prompt, temperature = 0, max_tokens = 40, stream = true });
            var (pieces, done) = await ReadEventsAsync(http, "v1/completions", streamBody, e => e.GetProperty("choices")[0].GetProperty("text").GetString()!);

            Assert.True(expected.Length > 20, $"too short to compare: «{expected}»");
            Assert.Equal("text_completion", json.RootElement.GetProperty("object").GetString());
            Assert.Equal(expected, choice.GetProperty("text").GetString());
            Assert.Equal(result.Outcome.IsTruncated ? "length" : "stop", choice.GetProperty("finish_reason").GetString());
            Assert.Equal(result.Outcome.PromptTokens, json.RootElement.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
            Assert.Equal(result.Outcome.GeneratedTokens, json.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            Assert.Equal(expected, string.Concat(pieces));
            Assert.True(pieces.Count > 5, $"streamed in {pieces.Count} pieces");
            Assert.True(done, "the stream ends with data: [DONE]");
        }
    }

    [Fact]
    public async Task Models_ListsEveryConfiguredModel_ThroughTheSdk()
    {
        await using var server = await ModelServerHost.StartAsync(FakeConfig);
        var client = new OpenAIModelClient(new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 });

        var models = (await client.GetModelsAsync()).Value;
        var one = (await client.GetModelAsync("slow")).Value;

        Assert.Equal(["huge", "slow", "small"], models.Select(m => m.Id).Order());
        Assert.All(models, m => Assert.Equal("modelmanager", m.OwnedBy));
        Assert.Equal("slow", one.Id);
        Assert.Equal(404, (await Assert.ThrowsAsync<ClientResultException>(() => client.GetModelAsync("nope"))).Status);
    }

    [Fact]
    public async Task Status_ShowsTheMemoryBudgetAndEachModelsState()
    {
        await using var server = await ModelServerHost.StartAsync(FakeConfig);
        using var http = new HttpClient { BaseAddress = server.Address };
        await server.Manager.GetModel("small").GenerateAsync("hello");

        using var status = JsonDocument.Parse(await http.GetStringAsync("v1/status"));
        using var health = JsonDocument.Parse(await http.GetStringAsync("health"));

        var memory = status.RootElement.GetProperty("memory");
        Assert.Equal(512, memory.GetProperty("limit_mb").GetDouble());
        Assert.Equal(8, memory.GetProperty("used_mb").GetDouble());
        var models = status.RootElement.GetProperty("models").EnumerateArray().ToDictionary(m => m.GetProperty("name").GetString()!);
        Assert.Equal("Ready", models["small"].GetProperty("state").GetString());
        Assert.Equal(8, models["small"].GetProperty("memory_mb").GetDouble());
        Assert.Equal(1, models["small"].GetProperty("load_count").GetInt32());
        Assert.Equal(0, models["small"].GetProperty("active_leases").GetInt32());
        Assert.Equal("Unloaded", models["huge"].GetProperty("state").GetString());
        Assert.Equal("Healthy", health.RootElement.GetProperty("status").GetString());
        Assert.Equal(1, health.RootElement.GetProperty("checks").GetProperty("modelmanager").GetProperty("data").GetProperty("models_loaded").GetInt32());
    }

    [Fact]
    public async Task ApiKey_WhenSet_IsRequiredOnEveryV1Request_AndHealthStaysOpen()
    {
        await using var server = await ModelServerHost.StartAsync(FakeConfig, apiKey: "right-key");
        using var http = new HttpClient { BaseAddress = server.Address };
        ChatClient Client(string key) => new("small", new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = server.V1 });

        var wrong = await Assert.ThrowsAsync<ClientResultException>(() => Client("wrong-key").CompleteChatAsync([new UserChatMessage("hi")]));
        using var missing = await http.GetAsync("v1/models");
        using var malformed = await Send(http, HttpMethod.Get, "v1/models", auth: "Basic cmlnaHQta2V5");
        var right = await Client("right-key").CompleteChatAsync([new UserChatMessage("hi")]);
        using var healthy = await http.GetAsync("health");

        Assert.Equal(401, wrong.Status);
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Equal("Bearer", missing.Headers.WwwAuthenticate.Single().Scheme);
        await AssertError(missing, "invalid_request_error", code: "invalid_api_key");
        Assert.Equal(HttpStatusCode.Unauthorized, malformed.StatusCode);
        Assert.NotEmpty(right.Value.Content[0].Text);
        Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
    }

    [Fact]
    public async Task Metrics_ArePrometheusText_OfTheManagersMeter_BehindTheApiKey()
    {
        await using var server = await ModelServerHost.StartAsync(FakeConfig, apiKey: "right-key");
        using var http = new HttpClient { BaseAddress = server.Address };
        http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "right-key");
        await server.Manager.LoadModelAsync("small");

        using var response = await http.GetAsync("metrics");
        var text = await response.Content.ReadAsStringAsync();
        using var anonymous = await new HttpClient { BaseAddress = server.Address }.GetAsync("metrics");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType!.MediaType, StringComparison.Ordinal);
        // The exporter listens to every meter named ModelManager in the process: other tests' managers add to the sums, so
        // the figures are checked for presence and sign, and this server's own load by its model's tag.
        Assert.Matches(@"(?m)^modelmanager_memory_limit_bytes(\{[^}]*\})? [1-9]\d*(\.\d+)?(e\+\d+)?( \d+)?$", text);
        Assert.Matches(@"(?m)^modelmanager_loads_total\{[^}]*modelmanager_model=""small""[^}]*\} [1-9]\d*( \d+)?$", text);
        Assert.Contains("modelmanager_models_loaded", text, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task BadRequests_Get400_WithOpenAIStyleErrors_NamingTheParameter()
    {
        await using var server = await ModelServerHost.StartAsync(FakeConfig);
        using var http = new HttpClient { BaseAddress = server.Address };
        (string Path, string Body, string? Param)[] cases =
        [
            ("v1/chat/completions", "{not json", null),
            ("v1/chat/completions", "[1,2]", null),
            ("v1/chat/completions", """{"messages":[{"role":"user","content":"hi"}]}""", "model"),
            ("v1/chat/completions", """{"model":"small"}""", "messages"),
            ("v1/chat/completions", """{"model":"small","messages":[]}""", "messages"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"wizard","content":"hi"}]}""", "messages[0].role"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", "messages[0].content"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"user","content":"hi"}],"temperature":"hot"}""", "temperature"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"user","content":"hi"}],"max_tokens":0}""", "max_tokens"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"user","content":"hi"}],"n":3}""", "n"),
            ("v1/chat/completions", """{"model":42,"messages":[{"role":"user","content":"hi"}]}""", "model"),
            ("v1/completions", """{"model":"small"}""", "prompt"),
            ("v1/completions", """{"model":"small","prompt":["a","b"]}""", "prompt"),
            ("v1/completions", """{"model":"small","prompt":"hi","stop":[1]}""", "stop"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"xml"}}""", "response_format.type"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":[1]}}}""", "response_format.json_schema.schema"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"user","content":"hi"}],"tool_choice":"sometimes"}""", "tool_choice"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"retrieval"}]}""", "tools[0]"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"a b"}}]}""", "tools[0].function.name"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"user","content":"hi"},{"role":"tool","content":"42"}]}""", "messages[1].tool_call_id"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"assistant","tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{oops"}}]}]}""", "messages[0].tool_calls[0].function.arguments"),
            ("v1/chat/completions", """{"model":"small","messages":[{"role":"user","content":"hi"}],"frequency_penalty":0.5}""", "frequency_penalty"),
            ("v1/completions", """{"model":"small","prompt":"hi","presence_penalty":1}""", "presence_penalty"),
            ("v1/completions", """{"model":"small","prompt":"hi","logit_bias":{"50256":-100}}""", "logit_bias"),
        ];

        foreach (var (path, body, param) in cases)
        {
            using var response = await http.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path} {body}: {response.StatusCode}");
            var error = await AssertError(response, "invalid_request_error");
            Assert.Equal(param, error.GetProperty("param").GetString());
        }

        Assert.Equal(0, server.Manager.GetModelStats()["small"].AccessCount); // nothing reached a model

        // The neutral values of those options are honoured, so they pass.
        using var neutral = await http.PostAsync("v1/chat/completions", new StringContent(
            """{"model":"small","messages":[{"role":"user","content":"hi"}],"max_tokens":2,"frequency_penalty":0,"presence_penalty":0,"logit_bias":{},"response_format":{"type":"text"},"tool_choice":"none"}""",
            Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, neutral.StatusCode);

        // A well-formed request for what this model cannot do is a 400 from the model itself, naming it.
        foreach (var stream in new[] { false, true })
        {
            using var json = await http.PostAsync("v1/chat/completions", new StringContent(
                $$$"""{"model":"small","stream":{{{(stream ? "true" : "false")}}},"messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_object"}}""", Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, json.StatusCode);
            var error = await AssertError(json, "invalid_request_error", code: "unsupported_option");
            Assert.Contains("'small'", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task APromptOverTheContext_Gets400ContextLengthExceeded_NamingTheInputField_StreamedOrNot()
    {
        await using var server = await ModelServerHost.StartAsync($$"""{ "max_memory_mb": 512, "models": [ {{GgufManagers.Stories()}} ] }""");
        using var http = new HttpClient { BaseAddress = server.Address };
        var longText = string.Join(' ', Enumerable.Repeat("Once upon a time", 80));
        var huge = new string('a', 4 << 20);
        foreach (var stream in new[] { false, true })
        {
            foreach (var text in new[] { longText, huge })
            {
                var chat = JsonSerializer.Serialize(new { model = "stories", messages = new[] { new { role = "user", content = text } }, stream });
                var completion = JsonSerializer.Serialize(new { model = "stories", prompt = text, stream });
                using var chatResponse = await http.PostAsync("v1/chat/completions", new StringContent(chat, Encoding.UTF8, "application/json"));
                using var completionResponse = await http.PostAsync("v1/completions", new StringContent(completion, Encoding.UTF8, "application/json"));

                Assert.Equal(HttpStatusCode.BadRequest, chatResponse.StatusCode);
                Assert.Equal(HttpStatusCode.BadRequest, completionResponse.StatusCode);
                var chatError = await AssertError(chatResponse, "invalid_request_error", code: "context_length_exceeded");
                var completionError = await AssertError(completionResponse, "invalid_request_error", code: "context_length_exceeded");
                Assert.Equal("messages", chatError.GetProperty("param").GetString());
                Assert.Equal("prompt", completionError.GetProperty("param").GetString());
                Assert.DoesNotContain("(Parameter", chatError.GetProperty("message").GetString(), StringComparison.Ordinal);
            }
        }
    }

    [Fact]
    public async Task BadEncodingsAndOversizedBodies_GetOpenAIErrors_NotEmpty500s()
    {
        await using var server = await ModelServerHost.StartAsync(FakeConfig);
        using var http = new HttpClient { BaseAddress = server.Address };
        var loneSurrogate = Encoding.UTF8.GetBytes("""{"model":"small","messages":[{"role":"user","content":"a\ud800b"}]}""");
        byte[] badUtf8 = [.. Encoding.UTF8.GetBytes("""{"model":"small","messages":[{"role":"user","content":"a"""), 0xFF, 0xFE, .. Encoding.UTF8.GetBytes("\"}]}")];
        var huge = new byte[50 << 20];
        Array.Fill(huge, (byte)' ');

        foreach (var (body, status) in new[] { (loneSurrogate, HttpStatusCode.BadRequest), (badUtf8, HttpStatusCode.BadRequest), (huge, HttpStatusCode.RequestEntityTooLarge) })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            request.Headers.ExpectContinue = true; // the server answers before the body is sent, so a refused body is not a broken pipe
            using var response = await http.SendAsync(request);
            Assert.Equal(status, response.StatusCode);
            await AssertError(response, "invalid_request_error");
        }

        Assert.Equal(0, server.Manager.GetModelStats()["small"].AccessCount);
    }

    [Fact]
    public async Task AFallbacksName_IsTheModelOfEveryResponseAndChunk()
    {
        await using var server = await ModelServerHost.StartAsync("""
            { "max_memory_mb": 512, "models": [
                { "name": "broken", "type": "fake", "fallbacks": ["small"], "parameters": { "fail_load": true } },
                { "name": "small", "type": "fake", "parameters": { "max_tokens": 3 } } ] }
            """);
        using var http = new HttpClient { BaseAddress = server.Address };
        var bodies = new List<string>();
        foreach (var (path, json) in new[]
                 {
                     ("v1/chat/completions", """{"model":"broken","messages":[{"role":"user","content":"hi"}]}"""),
                     ("v1/chat/completions", """{"model":"broken","messages":[{"role":"user","content":"hi"}],"stream":true}"""),
                     ("v1/completions", """{"model":"broken","prompt":"hi"}"""),
                     ("v1/completions", """{"model":"broken","prompt":"hi","stream":true}"""),
                 })
        {
            using var response = await http.PostAsync(path, new StringContent(json, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var text = await response.Content.ReadAsStringAsync();
            bodies.Add(text);
            var models = System.Text.RegularExpressions.Regex.Matches(text, "\"model\":\"([^\"]*)\"").Select(m => m.Groups[1].Value).ToList();
            Assert.NotEmpty(models);
            Assert.All(models, m => Assert.Equal("small", m));
        }
    }

    [Fact]
    public async Task AKnownUrlWithTheWrongMethod_Gets405_WithAllow()
    {
        await using var server = await ModelServerHost.StartAsync(FakeConfig);
        using var http = new HttpClient { BaseAddress = server.Address };

        using var getChat = await http.GetAsync("v1/chat/completions");
        using var postModels = await http.PostAsync("v1/models", new StringContent("{}", Encoding.UTF8, "application/json"));
        using var unknown = await http.GetAsync("v1/nothing");

        Assert.Equal(HttpStatusCode.MethodNotAllowed, getChat.StatusCode);
        Assert.Equal("POST", string.Join(",", getChat.Content.Headers.Allow));
        await AssertError(getChat, "invalid_request_error", code: "method_not_allowed");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, postModels.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task UnknownModel_Gets404()
    {
        await using var server = await ModelServerHost.StartAsync(FakeConfig);
        using var http = new HttpClient { BaseAddress = server.Address };
        var client = new ChatClient("nope", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1 });

        var e = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));
        using var completions = await http.PostAsync("v1/completions", new StringContent("""{"model":"nope","prompt":"hi","stream":true}""", Encoding.UTF8, "application/json"));
        using var unknownUrl = await http.GetAsync("v1/audio/speech");
        using var wrongMethod = await http.GetAsync("v1/embeddings");

        Assert.Equal(404, e.Status);
        Assert.Equal(HttpStatusCode.NotFound, completions.StatusCode);
        Assert.Equal("model", (await AssertError(completions, "invalid_request_error", code: "model_not_found")).GetProperty("param").GetString());
        Assert.Equal(HttpStatusCode.NotFound, unknownUrl.StatusCode);
        await AssertError(unknownUrl, "invalid_request_error", code: "unknown_url");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode); // /v1/embeddings exists, for POST
        Assert.Equal("POST", wrongMethod.Content.Headers.Allow.Single());
    }

    [Fact]
    public async Task ModelThatCanNeverFit_Gets507_WithoutRetryAfter_ButOneThatCannotFitNow_Gets503_WithRetryAfter()
    {
        await using var server = await ModelServerHost.StartAsync($$"""
            { "max_memory_mb": 512, "load_wait_timeout": 0, "models": [
                {{RemoteManagers.Fake("huge", sizeMb: 4096)}},
                { "name": "keep", "type": "fake", "memory_priority": 1, "parameters": { "size_mb": 300 } },
                { "name": "later", "type": "fake", "memory_priority": 5, "parameters": { "size_mb": 300 } } ] }
            """);
        using var http = new HttpClient { BaseAddress = server.Address };
        await using var held = await server.Manager.AcquireAsync("keep"); // a more important model, in use, holds the memory

        foreach (var stream in new[] { false, true })
        {
            var never = JsonSerializer.Serialize(new { model = "huge", messages = new[] { new { role = "user", content = "hi" } }, stream });
            using var tooLarge = await http.PostAsync("v1/chat/completions", new StringContent(never, Encoding.UTF8, "application/json"));
            var now = JsonSerializer.Serialize(new { model = "later", messages = new[] { new { role = "user", content = "hi" } }, stream });
            using var busy = await http.PostAsync("v1/chat/completions", new StringContent(now, Encoding.UTF8, "application/json"));

            Assert.Equal(HttpStatusCode.InsufficientStorage, tooLarge.StatusCode);
            Assert.Null(tooLarge.Headers.RetryAfter);
            var error = await AssertError(tooLarge, "server_error", code: "model_too_large");
            Assert.Contains("huge", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, busy.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(5), busy.Headers.RetryAfter?.Delta);
            await AssertError(busy, "server_error", code: "insufficient_memory");
        }

        Assert.Equal(ModelState.Unloaded, server.Manager.GetModelStats()["huge"].State);
    }

    [Fact]
    public async Task ClientDisconnectMidStream_CancelsTheGeneration_AndReleasesTheModel()
    {
        await using var server = await ModelServerHost.StartAsync(FakeConfig);
        // By default HttpClient drains a cancelled response for up to 2 s before closing the connection; this client closes it at once.
        using var http = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 });
        var client = new ChatClient("slow", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = server.V1, Transport = new HttpClientPipelineTransport(http) });
        using var cts = new CancellationTokenSource();
        var received = 0;

        var watch = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage("tell me everything")], cancellationToken: cts.Token))
            {
                received += update.ContentUpdate.Count;
                if (received >= 3)
                {
                    Assert.Equal(1, server.Manager.GetModelStats()["slow"].ActiveLeases); // generating, leased
                    watch.Restart();
                    await cts.CancelAsync(); // 2000 tokens at 20 ms would take 40 s
                }
            }
        });

        while (server.Manager.GetModelStats()["slow"].ActiveLeases > 0 && watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(20);
        }

        Assert.Equal(0, server.Manager.GetModelStats()["slow"].ActiveLeases);
        // Generating on would hold it 40 s: released well before that (half of it: a margin for a busy 2-core machine) is the disconnect's doing.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"the lease was released {watch.Elapsed} after the client disconnected");
    }

    private static async Task<HttpResponseMessage> Send(HttpClient http, HttpMethod method, string path, string? auth = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (auth is not null)
        {
            request.Headers.Authorization = AuthenticationHeaderValue.Parse(auth);
        }

        return await http.SendAsync(request);
    }

    private static async Task<JsonElement> AssertError(HttpResponseMessage response, string type, string? code = null)
    {
        using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = json.RootElement.GetProperty("error");
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.True(error.TryGetProperty("param", out _), "error.param is present (may be null)");
        if (code is not null)
        {
            Assert.Equal(code, error.GetProperty("code").GetString());
        }

        return error.Clone();
    }

    /// <summary>Posts a streaming request and reads its SSE events; returns each event's value and whether [DONE] closed the stream.</summary>
    internal static async Task<(List<string> Values, bool Done)> ReadEventsAsync(HttpClient http, string path, string body, Func<JsonElement, string> select)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var values = new List<string>();
        var done = false;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal))
            {
                continue;
            }

            var data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                done = true;
                break;
            }

            using var json = JsonDocument.Parse(data);
            if (select(json.RootElement) is { Length: > 0 } value)
            {
                values.Add(value);
            }
        }

        return (values, done);
    }
}
