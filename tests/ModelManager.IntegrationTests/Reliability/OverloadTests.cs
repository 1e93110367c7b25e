using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using ModelManager.IntegrationTests.OpenAI;
using Xunit.Abstractions;

namespace ModelManager.IntegrationTests;

/// <summary>500 concurrent requests against one model with <c>max_queue</c> 64: the excess is refused at once with 503 + Retry-After, the admitted finish, memory stays flat.</summary>
/// <remarks>Run alone: it measures the process's resident memory and the refusals' latency.</remarks>
[Collection(RunAlone.Name)]
public sealed class OverloadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task FiveHundredConcurrentRequests_TheExcessGets503AtOnce_TheAdmittedFinish()
    {
        await using var server = await ModelServerHost.StartAsync("""
            { "max_memory_mb": 512, "models": [ { "name": "busy", "type": "fake", "max_queue": 64, "parameters": { "token_delay_ms": 20, "max_tokens": 20 } } ] }
            """);
        using var http = new HttpClient { BaseAddress = server.Address, Timeout = TimeSpan.FromSeconds(60) };
        var before = Environment.WorkingSet;

        async Task<(HttpStatusCode Status, TimeSpan Took, string Body, TimeSpan? RetryAfter)> Send(int tokens)
        {
            var body = JsonSerializer.Serialize(new { model = "busy", messages = new[] { new { role = "user", content = "hi" } }, max_tokens = tokens });
            var watch = Stopwatch.StartNew();
            using var response = await http.PostAsync("v1/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
            return (response.StatusCode, watch.Elapsed, await response.Content.ReadAsStringAsync(), response.Headers.RetryAfter?.Delta);
        }

        var storm = Enumerable.Range(0, 500).Select(_ => Task.Run(() => Send(20))).ToList();
        await Task.Delay(100);
        var shortOnes = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Send(1)));
        var results = await Task.WhenAll(storm);

        var ok = results.Where(r => r.Status == HttpStatusCode.OK).ToList();
        var busy = results.Where(r => r.Status == HttpStatusCode.ServiceUnavailable).ToList();
        Assert.Equal(results.Length, ok.Count + busy.Count);
        var shortOk = shortOnes.Count(s => s.Status == HttpStatusCode.OK);
        Assert.True(ok.Count + shortOk >= 64, $"{ok.Count} + {shortOk} admitted"); // the queue filled: storm and short requests share its 64 places
        Assert.All(shortOnes, s => Assert.True(s.Status is HttpStatusCode.OK or HttpStatusCode.ServiceUnavailable, s.Status.ToString()));
        Assert.NotEmpty(busy);
        Assert.All(busy, b =>
        {
            Assert.Equal(TimeSpan.FromSeconds(1), b.RetryAfter);
            Assert.Contains("\"code\":\"model_busy\"", b.Body, StringComparison.Ordinal);
        });
        Assert.All(ok, o => Assert.Contains("\"completion_tokens\":20", o.Body, StringComparison.Ordinal));
        var refusedIn = busy.Select(b => b.Took.TotalMilliseconds).Order().ToList();
        var shortTimes = shortOnes.Select(s => s.Took.TotalMilliseconds).Order().ToList();
        output.WriteLine($"admitted {ok.Count}, refused {busy.Count}; refusals p50 {refusedIn[refusedIn.Count / 2]:F0} ms, p99 {refusedIn[(int)(refusedIn.Count * 0.99)]:F0} ms; " +
                         $"admitted p50 {ok.Select(o => o.Took.TotalMilliseconds).Order().ElementAt(ok.Count / 2):F0} ms");
        output.WriteLine($"short requests during the storm: {shortOnes.Count(s => s.Status == HttpStatusCode.OK)} answered, {shortOnes.Count(s => s.Status == HttpStatusCode.ServiceUnavailable)} refused; p99 {shortTimes[^1]:F0} ms");
        Assert.True(refusedIn[(int)(refusedIn.Count * 0.99)] < 5000, "refusals are immediate, not queued");
        var stats = server.Manager.GetModelStats()["busy"];
        Assert.Equal(0, stats.ActiveCalls);
        Assert.Equal(busy.Count + shortOnes.Count(s => s.Status == HttpStatusCode.ServiceUnavailable), stats.BusyCount);
        Assert.True(Environment.WorkingSet - before < 100L << 20, $"resident memory grew {(Environment.WorkingSet - before) >> 20} MB");
    }
}
