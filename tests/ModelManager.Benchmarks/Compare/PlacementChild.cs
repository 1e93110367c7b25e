using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using LLama.Batched;

namespace ModelManager.Benchmarks.Compare;

/// <summary>
/// The placement pair's child process: loads one gguf model either directly through LLamaSharp or through the manager at
/// its default settings, times the load, then decodes greedily a few times, and reports one JSON line.
/// </summary>
/// <remarks>
/// One process per side, as the task's note says: two copies of the same weights in one process decode 20–25% apart depending
/// on where in memory they landed, so only separate processes compare what each side does with the memory.
/// </remarks>
internal static class PlacementChild
{
    public const string Command = "placement-child";
    public const string Prompt = "Once upon a time";

    /// <summary>Arguments: <c>managed|managed-4k|direct|stateless PATH CONTEXT PARALLEL TOKENS REPEATS WARMUP</c> (managed-4k: <c>huge_pages</c> off; stateless: LLamaSharp's StatelessExecutor, a context per call; WARMUP: a small gguf loaded and run first, so that neither side's timed load pays for JIT).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        if (args.Length != 7 || args[0] is not ("managed" or "managed-4k" or "direct" or "stateless"))
        {
            await output.WriteLineAsync("usage: placement-child managed|managed-4k|direct|stateless PATH CONTEXT PARALLEL TOKENS REPEATS WARMUP").ConfigureAwait(false);
            return 2;
        }

        var (mode, path) = (args[0], args[1]);
        var setup = new GgufSetup(path, int.Parse(args[2], CultureInfo.InvariantCulture), int.Parse(args[3], CultureInfo.InvariantCulture));
        var tokens = int.Parse(args[4], CultureInfo.InvariantCulture);
        var repeats = int.Parse(args[5], CultureInfo.InvariantCulture);
        var warmUp = new GgufSetup(args[6], 128, 1);
        await NativeSetup.RouteNativeLogsAsync().ConfigureAwait(false);
        LLama.Native.NativeApi.llama_empty_call(); // llama.cpp loaded before either side's clock starts

        var speeds = new List<double>();
        double loadMs;
        string text;
        long hugeBytes = 0;
        if (mode is "managed" or "managed-4k")
        {
            var entry = mode == "managed" ? setup.Json("m", tokens) : setup.Json("m", tokens).Replace("\"parameters\"", "\"huge_pages\": \"off\", \"parameters\"", StringComparison.Ordinal);
            await using var fixture = await ManagerFixture.CreateAsync(GgufSetup.Config(16384, entry, warmUp.Json("warm", 2))).ConfigureAwait(false);
            await fixture.Manager.GetModel("warm").GenerateAsync(Prompt).ConfigureAwait(false);
            var watch = Stopwatch.StartNew();
            await fixture.Manager.LoadModelAsync("m").ConfigureAwait(false);
            loadMs = watch.Elapsed.TotalMilliseconds;
            // The steady state a server runs in: the copy into huge pages runs after the load, off its path; wait for it (at most 5 s).
            for (var i = 0; i < 100 && mode == "managed" && fixture.Manager.GetModelStats()["m"].HugePageBytes == 0; i++)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }

            var handle = fixture.Manager.GetModel("m");
            text = "";
            for (var i = 0; i <= repeats; i++)
            {
                watch.Restart();
                var result = await handle.GenerateResultAsync(Prompt, new GenerationOptions { MaxTokens = tokens, DoSample = false }).ConfigureAwait(false);
                var speed = (result.Outcome.GeneratedTokens ?? 0) / watch.Elapsed.TotalSeconds;
                text = result.Text;
                if (i > 0)
                {
                    speeds.Add(speed); // the first call warms caches and thread pools on both sides
                }
            }

            hugeBytes = fixture.Manager.GetModelStats()["m"].HugePageBytes; // measured off the load path, by now done
        }
        else
        {
            var (warmWeights, warmContext) = DirectLlama.Load(warmUp.Params());
            using (warmWeights)
            using (warmContext)
            using (var warmExecutor = new BatchedExecutor(warmWeights, warmUp.Params()))
            {
                await DirectLlama.GenerateAsync(warmExecutor, Prompt, 2).ConfigureAwait(false);
            }

            var watch = Stopwatch.StartNew();
            var (weights, context) = DirectLlama.Load(setup.Params());
            loadMs = watch.Elapsed.TotalMilliseconds;
            using (weights)
            using (context)
            using (var executor = new BatchedExecutor(weights, setup.Params()))
            {
                text = "";
                for (var i = 0; i <= repeats; i++)
                {
                    var generated = mode == "direct"
                        ? await DirectLlama.GenerateAsync(executor, Prompt, tokens).ConfigureAwait(false)
                        : await DirectLlama.GenerateStatelessAsync(weights, setup.Params(), Prompt, tokens).ConfigureAwait(false);
                    text = generated.Text;
                    if (i > 0)
                    {
                        speeds.Add(generated.TokensPerSecond);
                    }
                }
            }
        }

        speeds.Sort();
        await output.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["load_ms"] = loadMs,
            ["tokens_per_second"] = speeds[speeds.Count / 2],
            ["huge_page_bytes"] = hugeBytes,
            ["text"] = text,
        })).ConfigureAwait(false);
        return 0;
    }
}
