using System.Diagnostics;
using System.Text.Json;
using ModelManager.Benchmarks;

namespace ModelManager.IntegrationTests.Benchmarks;

/// <summary>Runs the comparison runner's quick mode in process, so the runner cannot rot between full runs.</summary>
[Collection(RunAlone.Name)]
public sealed class ComparisonRunnerTests
{
    private static readonly string[] ExpectedGroups = ["load/", "generation/", "structured/", "concurrency/", "swap/", "sharing/", "embeddings/"];

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Compare_Quick_WritesEveryComparisonWithPositiveMedians()
    {
        _ = SharedModels.Stories260K; // under CI a missing model fails here, never skips
        _ = SharedModels.Require(Path.Combine("tiny-random-gpt2-fp32", "genai_config.json"));
        _ = SharedModels.Require(EmbeddingManagers.MiniLmMarker);
        var outDir = TestCache.NewScratchDirectory();
        try
        {
            var output = new StringWriter();
            var watch = Stopwatch.StartNew();

            var exitCode = await BenchmarkApp.RunAsync(["compare", "--quick", "--out", outDir, "--cache-dir", TestCache.Directory], output);

            watch.Stop();
            var text = output.ToString();
            Assert.True(exitCode == 0, $"exit code {exitCode}:\n{text}");
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"the quick comparison took {watch.Elapsed.TotalSeconds:F1} s");

            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(outDir, "benchmark-results.json")));
            var rows = json.RootElement.EnumerateArray().ToList();
            var names = rows.Select(r => r.GetProperty("name").GetString()!).ToList();
            foreach (var expected in new[]
                     {
                         "load/stories260K", "load/synthetic-8MB",
                         "generation/stories260K/handle", "generation/stories260K/chat",
                         "generation/synthetic-8MB/handle", "generation/synthetic-8MB/chat",
                         "generation/tiny-random-gpt2-fp32/onnx-handle", "generation/tiny-random-gpt2-fp32/onnx-new-thread",
                         "structured/stories260K/json-schema", "embeddings/all-MiniLM-L6-v2/batch", "embeddings/all-MiniLM-L6-v2/onnx-direct", "structured/synthetic-8MB/json-schema", "structured/synthetic-8MB-vocab32k/json-schema",
                         "concurrency/synthetic-8MB/2-agents", "concurrency/synthetic-8MB/4-agents", "concurrency/synthetic-8MB/8-agents",
                         "concurrency/synthetic-8MB/threads-" + Environment.ProcessorCount + "/8-agents",
                         "swap/synthetic-8MB/reload-vs-direct-load", "swap/synthetic-8MB/reload-vs-first-load", "swap/synthetic-8MB/evict-and-reload-vs-direct-load", "sharing/synthetic-8MB/8-agents", "sharing/synthetic-8MB/vs-ideal",
                     })
            {
                Assert.Contains(expected, names);
            }

            Assert.All(ExpectedGroups, g => Assert.Contains(names, n => n.StartsWith(g, StringComparison.Ordinal)));
            foreach (var row in rows)
            {
                var name = row.GetProperty("name").GetString();
                foreach (var field in new[] { "baseline", "candidate", "unit" })
                {
                    Assert.False(string.IsNullOrEmpty(row.GetProperty(field).GetString()), $"{name}: {field} is empty");
                }

                Assert.True(row.GetProperty("baseline_median").GetDouble() > 0, $"{name}: baseline_median {row.GetProperty("baseline_median")}");
                Assert.True(row.GetProperty("candidate_median").GetDouble() > 0, $"{name}: candidate_median {row.GetProperty("candidate_median")}");
                var ratio = row.GetProperty("ratio").GetDouble();
                Assert.True(double.IsFinite(ratio) && ratio > 0, $"{name}: ratio {ratio}");
                Assert.Equal(1, row.GetProperty("runs").GetInt32());
            }

            var markdown = await File.ReadAllTextAsync(Path.Combine(outDir, "benchmark-results.md"));
            Assert.Contains("| load/stories260K |", markdown, StringComparison.Ordinal);
            Assert.Contains("ModelManager vs direct library calls", text, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(outDir, recursive: true);
        }
    }
}
