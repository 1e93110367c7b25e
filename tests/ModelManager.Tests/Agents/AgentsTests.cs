using System.Text.Json;
using Microsoft.Extensions.AI;

namespace ModelManager.Tests;

public sealed class AgentsTests
{
    [Fact]
    public async Task ModelAdapter_LoadsLazily_OnFirstUse()
    {
        var (m, backend) = FromJson("""{ "max_memory_mb": 100, "models": [ { "name": "gemma", "type": "fake" } ], "agents": { "CodeGeneratorAgent": { "model": "gemma" } } }""");
        var adapter = m.CreateModelAdapter("CodeGeneratorAgent");
        Assert.Equal(0, backend.Loads);
        var model = adapter.Model;
        Assert.Equal(0, backend.Loads);
        Assert.Equal(FakeModelInstance.Expected("gemma", "write code", 16), await model.GenerateAsync("write code"));
        Assert.Equal(1, backend.Loads);
        Assert.Same(model, adapter.Model);
    }

    [Fact]
    public void GetAgentModel_UnknownAgentWithoutDefault_ExplainsWhy()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)));
        var e = Assert.Throws<ModelNotFoundException>(() => m.GetAgentModel("Nobody"));
        Assert.Contains("Agent 'Nobody' has no entry in 'agents' and no 'default_model' is configured", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void GetLlmConfig_SerialisesLikeTheGuide()
    {
        var dir = Directory.CreateTempSubdirectory("mm-llm-");
        var options = Options("""
            { "models": [ { "name": "SmolLM3-3B", "type": "fake", "path": "./smollm", "parameters": { "temperature": 0.01, "max_tokens": 16384 } } ] }
            """);
        options.BaseDirectory = dir.FullName;
        using var m = new DefaultModelManager(options, [new FakeModelBackend()]);

        var config = m.GetLlmConfig("fake", "./smollm");

        Assert.Equal(
            "{\"backend\":\"fake\",\"config\":{\"model_name_or_path\":" + JsonSerializer.Serialize(Path.Combine(dir.FullName, "smollm")) + ",\"temperature\":0.01,\"max_tokens\":16384}}",
            JsonSerializer.Serialize(config));
        Assert.Throws<ModelNotFoundException>(() => m.GetLlmConfig("fake", "./other"));
    }

    [Fact]
    public async Task ChatClient_MapsOptions_AndStreams()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)));
        var chat = m.GetModel("a").AsChatClient();
        var messages = new[] { new ChatMessage(ChatRole.System, "be brief"), new ChatMessage(ChatRole.User, "hello") };

        var response = await chat.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 5 });
        var streamed = string.Concat(await chat.GetStreamingResponseAsync(messages, new ChatOptions { MaxOutputTokens = 5 }).Select(u => u.Text).ToListAsync());

        Assert.Equal(FakeModelInstance.Expected("a", "system: be brief\nuser: hello\nassistant:", 5), response.Text);
        Assert.Equal(response.Text, streamed);
        Assert.Equal("modelmanager", chat.GetService<ChatClientMetadata>()!.ProviderName);
        chat.Dispose();
        Assert.Equal(response.Text, (await chat.GetResponseAsync(messages, new ChatOptions { MaxOutputTokens = 5 })).Text);
    }

    [Fact]
    public async Task StopSequences_CutTheOutput()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1)));
        var full = await m.GetModel("a").GenerateAsync("p", new GenerationOptions { MaxTokens = 16 });
        var stop = full.Split(' ', StringSplitOptions.RemoveEmptyEntries)[3];
        var cut = await m.GetModel("a").GenerateAsync("p", new GenerationOptions { MaxTokens = 16, StopSequences = [" " + stop] });
        Assert.Equal(full[..full.IndexOf(" " + stop, StringComparison.Ordinal)], cut);
    }
}
