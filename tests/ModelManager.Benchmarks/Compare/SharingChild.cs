using System.Globalization;
using System.Text.Json;
using LLama;
using LLama.Batched;
using LLama.Native;

namespace ModelManager.Benchmarks.Compare;

/// <summary>
/// The sharing pair's child process: N agents either share one managed model or each load their own copy (the integration
/// guide's "old code"), all generate, then the process reports its resident-memory growth as one JSON line.
/// </summary>
/// <remarks>A process of its own per measurement: nothing else allocates meanwhile, and nothing freed earlier hides in RSS.</remarks>
internal static class SharingChild
{
    public const string Command = "sharing-child";

    /// <summary>Arguments: <c>managed|naive PATH AGENTS CONTEXT TOKENS</c>.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        if (args.Length != 5 || args[0] is not ("managed" or "naive"))
        {
            await output.WriteLineAsync("usage: sharing-child managed|naive PATH AGENTS CONTEXT TOKENS").ConfigureAwait(false);
            return 2;
        }

        var (mode, path) = (args[0], args[1]);
        var agents = int.Parse(args[2], CultureInfo.InvariantCulture);
        var contextLength = int.Parse(args[3], CultureInfo.InvariantCulture);
        var tokens = int.Parse(args[4], CultureInfo.InvariantCulture);

        ProcessMemory.FixMallocThreshold();
        await NativeSetup.RouteNativeLogsAsync().ConfigureAwait(false);
        NativeApi.llama_empty_call(); // load llama.cpp before the baseline reading, as both modes need it
        var before = ProcessMemory.TrimmedRss();

        long after;
        ulong weightsBytes;
        long kvBytesPerAgent;
        if (mode == "managed")
        {
            var setup = new GgufSetup(path, contextLength, agents);
            await using var fixture = await ManagerFixture.CreateAsync(GgufSetup.Config(65536, setup.Json("shared", tokens))).ConfigureAwait(false);
            var handle = fixture.Manager.GetModel("shared");
            await Task.WhenAll(Enumerable.Range(0, agents).Select(i =>
                handle.GenerateAsync($"Agent {i} asks: summarise the design", new GenerationOptions { MaxTokens = tokens, DoSample = false }))).ConfigureAwait(false);
            after = ProcessMemory.TrimmedRss();
            (weightsBytes, kvBytesPerAgent) = (0, 0); // the naive run reports the model's shape
        }
        else
        {
            var setup = new GgufSetup(path, contextLength, 1);
            var copies = new List<(LLamaWeights Weights, BatchedExecutor Executor)>();
            try
            {
                for (var i = 0; i < agents; i++)
                {
                    var parameters = setup.Params();
                    var weights = LLamaWeights.LoadFromFile(parameters);
                    var executor = new BatchedExecutor(weights, parameters);
                    copies.Add((weights, executor));
                    await DirectLlama.GenerateAsync(executor, $"Agent {i} asks: summarise the design", tokens).ConfigureAwait(false);
                }

                after = ProcessMemory.TrimmedRss();
                weightsBytes = copies[0].Weights.SizeInBytes;
                kvBytesPerAgent = KvBytes(copies[0].Weights, contextLength);
            }
            finally
            {
                foreach (var (weights, executor) in copies)
                {
                    executor.Dispose();
                    weights.Dispose();
                }
            }
        }

        await output.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, long>
        {
            ["rss_before"] = before,
            ["rss_after"] = after,
            ["rss_growth"] = after - before,
            ["weights_bytes"] = (long)weightsBytes,
            ["kv_bytes_per_agent"] = kvBytesPerAgent,
        })).ConfigureAwait(false);
        return 0;
    }

    /// <summary>K and V in F16 for <paramref name="contextLength"/> tokens: n_ctx × n_layer × n_head_kv × head_dim × 2 × 2 bytes.</summary>
    private static long KvBytes(LLamaWeights weights, int contextLength)
    {
        var arch = weights.Metadata["general.architecture"];
        long Get(string key) => long.Parse(weights.Metadata[$"{arch}.{key}"], CultureInfo.InvariantCulture);
        var layers = Get("block_count");
        var heads = Get("attention.head_count");
        var kvHeads = weights.Metadata.ContainsKey($"{arch}.attention.head_count_kv") ? Get("attention.head_count_kv") : heads;
        var headDim = Get("embedding_length") / heads;
        return contextLength * layers * kvHeads * headDim * 2 * 2;
    }
}
