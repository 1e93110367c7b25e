#pragma warning disable CA1305, CA1849, CA2007
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.ML.OnnxRuntimeGenAI;
using ModelManager.Benchmarks.Compare;
namespace ModelManager.Benchmarks;
internal static class Probe
{
    public static async Task<int> RunAsync(string[] args)
    {
        var models = BenchModels.Prepare(CompareOptions.Parse([], out _)!);
        var config = $$"""{ "max_memory_mb": 4096, "models": [ { "name": "gpt2", "type": "onnx", "path": {{JsonSerializer.Serialize(models.TinyGpt2)}}, "parameters": { "do_sample": false, "max_tokens": 256 } } ] }""";
        await using var fixture = await ManagerFixture.CreateAsync(config);
        await fixture.Manager.LoadModelAsync("gpt2");
        var h = fixture.Manager.GetModel("gpt2");
        var (model, tok) = ManagedInternals.OnnxModel(fixture.Manager, "gpt2")!.Value;
        var direct = new DirectOnnx(model, tok);
        double Threaded()
        {
            var sw = Stopwatch.StartNew();
            var ch = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
            var t = Task.Factory.StartNew(() =>
            {
                using var seqs = tok.Encode(OnnxPairPrompt);
                using var gp = new GeneratorParams(model);
                gp.SetSearchOption("max_length", seqs[0].Length + 256);
                gp.SetSearchOption("do_sample", false);
                using var g = new Generator(model, gp);
                using var st = tok.CreateStream();
                g.AppendTokens(seqs[0]);
                while (!g.IsDone()) { g.GenerateNextToken(); ch.Writer.TryWrite(st.Decode(g.GetNextTokens()[0])); }
                ch.Writer.TryComplete();
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            var sb = new StringBuilder();
            var n = 0;
            Task.Run(async () => { await foreach (var s in ch.Reader.ReadAllAsync()) { sb.Append(s); n++; } }).Wait();
            t.Wait();
            return n / sw.Elapsed.TotalSeconds;
        }
        double Spawned()
        {
            var sw = Stopwatch.StartNew();
            Generated? g = null;
            Task.Factory.StartNew(() => g = direct.Generate(OnnxPairPrompt, 256), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Wait();
            return g!.Tokens / sw.Elapsed.TotalSeconds;
        }
        var s = await Sampler.RotateAsync(15, true, default,
            () => Task.FromResult(direct.Generate(OnnxPairPrompt, 256).TokensPerSecond),
            () => Task.FromResult(Spawned()),
            () => Task.FromResult(Threaded()),
            async () => { var sw = Stopwatch.StartNew(); await h.GenerateAsync(OnnxPairPrompt); return 256 / sw.Elapsed.TotalSeconds; });
        Console.WriteLine($"direct {Stats.Median(s[0]):F0}  direct on a new LongRunning thread {Stats.Median(s[1]):F0}  producer thread + channel consumer {Stats.Median(s[2]):F0}  manager {Stats.Median(s[3]):F0}");
        return 0;
    }
    private const string OnnxPairPrompt = "a b c d";
}
