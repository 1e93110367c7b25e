using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using ModelManager.IntegrationTests.OpenAI;
using static ModelManager.IntegrationTests.Cli.CliRun;

namespace ModelManager.IntegrationTests.Cli;

/// <summary>The <c>modelmanager</c> tool on the real test models, corrupt files and bad configs: its figures are the library's.</summary>
public sealed class CliTests
{
    private const string Stories = "stories260K/stories260K.gguf";
    private const string TinyOnnx = "tiny-random-gpt2-fp32/genai_config.json";

    [SharedModelFact(Stories)]
    public async Task Estimate_Gguf_EqualsTheLibrarysEstimate_PartByPart()
    {
        var path = SharedModels.Stories260K;
        var json = await JsonAsync("estimate", path, "--context", "256", "--parallel", "2");

        var (services, _) = await LibraryAsync($$"""{ "models": [ { "name": "s", "type": "gguf", "path": {{Json(path)}}, "context_length": 256, "parallel": 2 } ] }""");
        await using var scope = services;
        long library = await LibraryEstimateAsync(services, "s");
        Assert.Equal(library, (long)json["total_bytes"]!);

        var parts = json["parts"]!.AsArray().Select(p => (Name: (string)p!["name"]!, Bytes: (long)p["bytes"]!)).ToList();
        Assert.Equal(library, parts.Sum(p => p.Bytes));
        // From the README's shape: 5 blocks, 4 KV heads of 64 / 8 = 8 wide; 2 × 256 cells padded to 256; K and V in f16.
        Assert.Equal(512L * 5 * 4 * (8 + 8) * 2, parts.Single(p => p.Name == "kv cache").Bytes);
        Assert.Equal(1_171_200, parts.Single(p => p.Name == "weights (F32)").Bytes);
        Assert.Equal(256, (int)json["context_length"]!);
        Assert.Equal(2, (int)json["parallel"]!);
        Assert.True((bool)json["budgets"]![0]!["fits"]!);
    }

    [SharedModelFact(Stories)]
    public async Task Estimate_LongerContext_GrowsTheKvCache_AndAFullConfigBudgetSaysItDoesNotFit()
    {
        var path = SharedModels.Stories260K;
        var small = await JsonAsync("estimate", path, "--context", "256", "--parallel", "1");
        var large = await JsonAsync("estimate", path, "--context", "512", "--parallel", "1");
        static long Kv(JsonObject o) => (long)o["parts"]!.AsArray().Single(p => (string)p!["name"]! == "kv cache")!["bytes"]!;
        Assert.Equal(2 * Kv(small), Kv(large));

        // A 1 MB budget whose preloaded model already takes part of it: the estimate does not fit.
        var (_, config) = await LibraryAsync($$"""{ "max_memory_mb": 1, "models": [ { "name": "s", "type": "gguf", "path": {{Json(path)}} } ] }""");
        var json = await JsonAsync("estimate", path, "--config", config);
        var budget = json["budgets"]!.AsArray().Single(b => ((string)b!["name"]!).Contains(config, StringComparison.Ordinal))!;
        Assert.Equal(1L << 20, (long)budget["limit_bytes"]!);
        Assert.False((bool)budget["fits"]!);
    }

    [SharedModelFact(TinyOnnx)]
    public async Task Estimate_OnnxFolders_EqualTheLibrarysEstimates()
    {
        var (services, _) = await LibraryAsync($$"""
            { "models": [
              { "name": "tiny", "type": "huggingface", "path": {{Json(OnnxManagers.TinyGpt2)}}, "context_length": 128, "parallel": 3 },
              { "name": "minilm", "type": "huggingface", "path": {{Json(EmbeddingManagers.MiniLm)}} } ] }
            """);
        await using var scope = services;

        var tiny = await JsonAsync("estimate", OnnxManagers.TinyGpt2, "--context", "128", "--parallel", "3");
        Assert.Equal(await LibraryEstimateAsync(services, "tiny"), (long)tiny["total_bytes"]!);
        // 3 sequences × 128 tokens × 5 layers × 4 KV heads × 8 × (K, V) × float32.
        Assert.Equal(3L * 128 * 5 * 4 * 8 * 2 * 4, (long)tiny["parts"]!.AsArray().Single(p => (string)p!["name"]! == "kv cache")!["bytes"]!);

        var minilm = await JsonAsync("estimate", EmbeddingManagers.MiniLm);
        Assert.Equal(await LibraryEstimateAsync(services, "minilm"), (long)minilm["total_bytes"]!);
    }

    [SharedModelFact(Stories)]
    public async Task Estimate_Config_ListsEveryModel_AndWhetherThePreloadedSetFits()
    {
        string body(int mb) => $$"""
            { "max_memory_mb": {{mb}}, "models": [
              { "name": "s", "type": "gguf", "path": {{Json(SharedModels.Stories260K)}}, "preload": true, "memory_priority": 1 },
              { "name": "t", "type": "huggingface", "path": {{Json(OnnxManagers.TinyGpt2)}}, "preload": true } ] }
            """;
        var (services, config) = await LibraryAsync(body(512));
        await using var scope = services;
        var json = await JsonAsync("estimate", config);

        var models = json["models"]!.AsArray();
        Assert.Equal(["s", "t"], models.Select(m => (string)m!["name"]!));
        long s = await LibraryEstimateAsync(services, "s"), t = await LibraryEstimateAsync(services, "t");
        Assert.Equal(s, (long)models[0]!["total_bytes"]!);
        Assert.Equal(t, (long)models[1]!["total_bytes"]!);
        Assert.Equal(s + t, (long)json["preload"]!["total_bytes"]!);
        Assert.True((bool)json["preload"]!["fits"]!);

        // The same set in 8 MB does not fit: exit code 1, and the table says so.
        var (_, tight) = await LibraryAsync(body(8));
        var (code, output, _) = await RunAsync("estimate", tight);
        Assert.Equal(1, code);
        Assert.Contains("do NOT fit", output, StringComparison.Ordinal);
    }

    [SharedModelFact(Stories)]
    public async Task Inspect_Gguf_ShowsTheFactsTheReadmeGivesForStories260K()
    {
        var json = await JsonAsync("inspect", SharedModels.Stories260K);
        var facts = json["facts"]!.AsObject();
        Assert.Equal("GGUF v3", (string)json["format"]!);
        Assert.Equal("llama", (string)facts["architecture"]!);
        Assert.Equal(("5", "64", "172", "8", "4", "512", "512"),
            ((string)facts["block_count"]!, (string)facts["embedding_length"]!, (string)facts["feed_forward_length"]!, (string)facts["head_count"]!,
             (string)facts["head_count_kv"]!, (string)facts["context_length"]!, (string)facts["vocab_size"]!));
        Assert.Equal(("1", "2"), ((string)facts["bos_token_id"]!, (string)facts["eos_token_id"]!));
        Assert.Equal("no", (string)facts["chat_template"]!);
        Assert.Equal("no", (string)facts["tool_template"]!);
        var weights = json["weights"]!.AsArray().Single()!;
        Assert.Equal(("F32", 48), ((string)weights["name"]!, (int)weights["count"]!));
        Assert.Equal(long.Parse((string)facts["tensor_bytes"]!, System.Globalization.CultureInfo.InvariantCulture), (long)weights["bytes"]!);

        // The table form shows the same facts (plain ASCII: the output is not a terminal).
        var (code, output, _) = await RunAsync("inspect", SharedModels.Stories260K);
        Assert.Equal(0, code);
        Assert.Matches(@"\| architecture\s+\| llama\s+\|", output);
        Assert.DoesNotContain("\u001b[", output, StringComparison.Ordinal);
    }

    [SharedModelFact(TinyOnnx)]
    public async Task Inspect_OnnxFolder_ShowsItsConfig()
    {
        var json = await JsonAsync("inspect", OnnxManagers.TinyGpt2);
        var facts = json["facts"]!.AsObject();
        Assert.Equal("ONNX Runtime GenAI folder", (string)json["format"]!);
        Assert.Equal(("gpt2", "5", "4", "8", "1000", "512"),
            ((string)facts["model_type"]!, (string)facts["num_hidden_layers"]!, (string)facts["num_key_value_heads"]!, (string)facts["head_size"]!,
             (string)facts["vocab_size"]!, (string)facts["context_length"]!));
        Assert.Equal("past.onnx", (string)json["weights"]![0]!["name"]!);
    }

    public static TheoryData<string> CorruptFiles => ["truncated", "not-gguf", "device", "folder", "missing"];

    [Theory]
    [MemberData(nameof(CorruptFiles))]
    public async Task Inspect_And_Estimate_BadFiles_GiveTheTypedErrorNamingTheFile_ExitCode1(string kind)
    {
        var scratch = TestCache.NewScratchDirectory();
        string path = kind switch
        {
            "truncated" => Write(Path.Combine(scratch, "cut.gguf"), [0x47, 0x47, 0x55, 0x46, 3, 0, 0, 0, 9]),
            "not-gguf" => Write(Path.Combine(scratch, "text.gguf"), "hello, this text is not a model at all"u8.ToArray()),
            "device" => "/dev/zero",
            "folder" => Directory.CreateDirectory(Path.Combine(scratch, "dir.gguf")).FullName,
            _ => Path.Combine(scratch, "absent.gguf"),
        };

        foreach (var command in new[] { "inspect", "estimate" })
        {
            var (code, output, error) = await RunAsync(command, path, "--type", "gguf");
            Assert.Equal(1, code);
            Assert.Equal("", output);
            Assert.StartsWith("error: ", error, StringComparison.Ordinal);
            Assert.Contains(path, error, StringComparison.Ordinal);
            Assert.Contains(kind switch
            {
                "truncated" => "too small for a GGUF header",
                "not-gguf" => "not a GGUF file",
                "device" => "character device",
                "folder" => "is a directory",
                _ => "not found",
            }, error, StringComparison.OrdinalIgnoreCase);
        }

        static string Write(string file, byte[] bytes)
        {
            File.WriteAllBytes(file, bytes);
            return file;
        }
    }

    [SharedModelFact(Stories)]
    public async Task Validate_BadConfig_ReportsTheLibrarysErrorsAndWarnings_WithJsonPaths_ExitCode1()
    {
        var (services, config) = await LibraryAsync($$"""
            { "max_memory_mb": 64, "models": [
              { "name": "a", "type": "gguf", "path": {{Json(SharedModels.Stories260K)}}, "memory_priority": 9, "context_length": 1024 },
              { "name": "b", "type": "gguf", "path": "/nonexistent/b.gguf", "temperature_typo": 1 },
              { "name": "c", "type": "nosuchtype" } ],
              "agents": { "writer": { "model": "zzz" } } }
            """);
        await using var scope = services;
        var expected = Assert.Throws<ModelConfigurationException>(() => services.GetRequiredService<IModelManager>());

        var (code, output, _) = await RunAsync("validate", config, "--json");
        Assert.Equal(1, code);
        var json = JsonNode.Parse(output)!.AsObject();
        Assert.False((bool)json["valid"]!);
        Assert.Equal(expected.Errors, json["errors"]!.AsArray().Select(e => (string)e!["text"]!));
        Assert.Equal(expected.Warnings, json["warnings"]!.AsArray().Select(e => (string)e!["text"]!));
        Assert.Contains(json["errors"]!.AsArray(), e => (string)e!["path"]! == "models[0].memory_priority");
        Assert.Contains(json["errors"]!.AsArray(), e => (string)e!["path"]! == "agents.writer.model");
        Assert.Contains(json["warnings"]!.AsArray(), e => (string)e!["path"]! == "models[0].context_length");

        var (tableCode, table, _) = await RunAsync("validate", config);
        Assert.Equal(1, tableCode);
        Assert.Matches(@"\| error\s+\| models\[0\]\.memory_priority\s+\|", table);
        Assert.Contains($"{expected.Errors.Count} errors", table, StringComparison.Ordinal);
    }

    [SharedModelFact(Stories)]
    public async Task Validate_GoodConfig_ExitCode0_WithTheWarningsTheManagerLogs()
    {
        var (services, config) = await LibraryAsync($$"""
            { "models": [ { "name": "a", "type": "gguf", "path": {{Json(SharedModels.Stories260K)}}, "context_length": 1024, "preload": true } ] }
            """);
        await using var scope = services;
        var manager = (DefaultModelManager)services.GetRequiredService<IModelManager>();

        var json = await JsonAsync("validate", config);
        Assert.True((bool)json["valid"]!);
        Assert.Empty(json["errors"]!.AsArray());
        Assert.Equal(manager.Warnings, json["warnings"]!.AsArray().Select(e => (string)e!["text"]!));
        Assert.NotEmpty(manager.Warnings); // context 1024 over the trained 512

        var (code, _, _) = await RunAsync("validate", Path.Combine(TestCache.NewScratchDirectory(), "absent.json"));
        Assert.Equal(1, code);
    }

    [SharedModelFact(Stories)]
    public async Task Ps_ShowsWhatARunningServerHolds_AndNeedsItsKey()
    {
        await using var server = await ModelServerHost.StartAsync($$"""
            { "models": [ { "name": "stories", "type": "gguf", "path": {{Json(SharedModels.Stories260K)}}, "max_idle_time": 600, "memory_priority": 2 },
                          { "name": "idle", "type": "gguf", "path": {{Json(SharedModels.Stories260K)}} } ],
              "agents": { "writer": { "model": "stories", "fallbacks": ["idle"] } } }
            """, apiKey: "sekret-key-1");
        await server.Manager.LoadModelAsync("stories");

        var json = await JsonAsync("ps", "--server", server.Address.ToString(), "--api-key", "sekret-key-1");
        var stories = json["models"]!.AsArray().Single(m => (string)m!["name"]! == "stories")!;
        Assert.Equal("Ready", (string)stories["state"]!);
        Assert.Equal("Unloaded", (string)json["models"]!.AsArray().Single(m => (string)m!["name"]! == "idle")!["state"]!);

        var (code, table, _) = await RunAsync("ps", "--server", server.Address.ToString(), "--api-key", "sekret-key-1");
        Assert.Equal(0, code);
        Assert.Matches(@"\| stories\s+\| gguf\s+\| Ready\s+\|\s+2 \|", table);
        Assert.Matches(@"\| stories .*\| (9|10)m\d\ds\s+\|", table); // idle unload counting down from 10 minutes
        Assert.Matches(@"\| writer\s+\| stories -> idle\s+\|", table);

        var (denied, output, error) = await RunAsync("ps", "--server", server.Address.ToString(), "--api-key", "wrong");
        Assert.Equal(1, denied);
        Assert.Equal("", output);
        Assert.Contains("401", error, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong", error, StringComparison.Ordinal);

        var (unreachable, _, refused) = await RunAsync("ps", "--server", $"http://127.0.0.1:{FreePort()}", "--timeout", "5");
        Assert.Equal(1, unreachable);
        Assert.Contains("no answer", refused, StringComparison.Ordinal);
    }

    [SharedModelFact(Stories)]
    public async Task Serve_ServesTheConfigOverHttp_UntilCancelled()
    {
        var (_, config) = await LibraryAsync($$"""{ "models": [ { "name": "stories", "type": "gguf", "path": {{Json(SharedModels.Stories260K)}} } ] }""");
        var url = $"http://127.0.0.1:{FreePort()}";
        using var stop = new CancellationTokenSource();
        using var output = new StringWriter();
        var run = ModelManager.Cli.CliApp.RunAsync(["serve", "--config", config, "--urls", url], output, output, cancellationToken: stop.Token);

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        string models = "";
        for (var attempt = 0; attempt < 100 && models.Length == 0 && !run.IsCompleted; attempt++)
        {
            try
            {
                models = await http.GetStringAsync($"{url}/v1/models");
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }

        Assert.Contains("\"id\":\"stories\"", models, StringComparison.Ordinal);
        stop.Cancel();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(30)));
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
