using System.Diagnostics;
using System.Net.Http.Headers;
using Microsoft.Playwright;
using ModelManager.IntegrationTests.OpenAI;

namespace ModelManager.IntegrationTests.Dashboard;

/// <summary>The dashboard at <c>GET /</c> in a real headless Chromium, over a ModelServer with two copies of stories260K and a budget for one.</summary>
[Collection(RunAlone.Name)]
public sealed class DashboardBrowserTests(HeadlessChromium chromium) : IClassFixture<HeadlessChromium>
{
    /// <summary>A UI latency bound: the page must show what the server did within this long (the page polls nothing; events are pushed).</summary>
    private static readonly TimeSpan UiBound = TimeSpan.FromSeconds(2);

    /// <summary>Where the screenshot is written: the test's output folder (a CI artifact); <c>docs/dashboard.png</c> is a copy of one.</summary>
    public static string ScreenshotPath => Path.Combine(AppContext.BaseDirectory, "TestResults", "dashboard.png");

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Page_WithTheKey_ShowsTheLoadedModel_ThenAnEvictionInTheLogAndTheTable_Within2Seconds()
    {
        await using var server = await ModelServerHost.StartAsync(DashboardModels.TwoStoriesConfig(), apiKey: DashboardModels.ApiKey);
        var page = await chromium.NewPageAsync();
        var urls = new List<string>();
        var authorized = new List<string>();
        page.Request += (_, request) =>
        {
            lock (urls)
            {
                urls.Add(request.Url);
                if (request.Headers.TryGetValue("authorization", out var auth) && auth == "Bearer " + DashboardModels.ApiKey)
                {
                    authorized.Add(new Uri(request.Url).AbsolutePath);
                }
            }
        };
        var budget = server.Manager.GetMemoryUsage();
        Assert.True(budget.TotalBytes > 0 && budget.TotalBytes * 2 > budget.LimitBytes, $"the budget ({budget.LimitMb:F1} MB) must hold one stories260K ({budget.TotalMb:F1} MB), not two");

        // The page asks for the key; with it, the preloaded model shows as Ready.
        await page.GotoAsync(server.Address.ToString());
        await page.Locator("#key-form").WaitForAsync(new() { State = WaitForSelectorState.Visible, Timeout = 10_000 });
        Assert.False(await page.Locator("#dashboard").IsVisibleAsync());
        await page.FillAsync("#key-input", DashboardModels.ApiKey);
        await page.ClickAsync("#key-form button[type=submit]");
        await page.Locator("#models tr[data-model='stories'][data-state='Ready']").WaitForAsync(new() { Timeout = 10_000 });
        await page.Locator("#event-log li[data-kind='Loaded'][data-model='stories']").WaitForAsync(new() { Timeout = 10_000 }); // the preload, from the kept history
        await page.Locator("#connection[data-state='live']").WaitForAsync(new() { Timeout = 10_000 });
        Assert.Equal("Unloaded", await page.Locator("#models tr[data-model='stories-b'] .state").TextContentAsync());
        Assert.Contains("stories", await page.Locator("#agents tr[data-agent='StoryAgent']").TextContentAsync(), StringComparison.Ordinal);

        // A chat call to the other copy through the API: it needs the room, so the idle, less important stories is evicted.
        using var http = new HttpClient { BaseAddress = server.Address };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", DashboardModels.ApiKey);
        using (var response = await DashboardModels.ChatAsync(http, "stories-b"))
        {
            response.EnsureSuccessStatusCode();
        }

        var watch = Stopwatch.StartNew();
        await WithinUiBound(page, "#event-log li[data-kind='Evicted'][data-model='stories'][data-reason='Capacity']");
        await WithinUiBound(page, "#models tr[data-model='stories'][data-state='Unloaded']");
        await WithinUiBound(page, "#models tr[data-model='stories-b'][data-state='Ready']");
        Assert.True(watch.Elapsed < UiBound, $"the eviction showed after {watch.Elapsed.TotalSeconds:F2} s");
        Assert.Contains("reason=Capacity", await page.Locator("#event-log li[data-kind='Evicted']").First.TextContentAsync(), StringComparison.Ordinal);
        Assert.Equal(ModelState.Unloaded, server.Manager.GetModelStats()["stories"].State); // the page shows what the manager did

        // A model that cannot load: its failure and the fallback appear too (and make the screenshot tell the whole story).
        using (var response = await DashboardModels.ChatAsync(http, "broken"))
        {
            response.EnsureSuccessStatusCode();
        }

        await WithinUiBound(page, "#event-log li[data-kind='LoadFailed'][data-model='broken']");
        await WithinUiBound(page, "#event-log li[data-kind='FallbackUsed'][data-model='broken']");
        Assert.Contains("ModelFormatException", await page.Locator("#event-log li[data-kind='LoadFailed']").TextContentAsync(), StringComparison.Ordinal);
        await page.WaitForTimeoutAsync(1500); // two more status snapshots, so the memory chart has a few points
        Assert.True(await page.Locator("#chart polyline.used").CountAsync() == 1, "the memory chart is drawn");
        Assert.Contains("stories-b", await page.Locator("#memory-legend").TextContentAsync(), StringComparison.Ordinal);

        Directory.CreateDirectory(Path.GetDirectoryName(ScreenshotPath)!);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = ScreenshotPath, FullPage = true });
        Assert.True(new FileInfo(ScreenshotPath).Length > 10_000, "the screenshot was written");

        // The key went only in Authorization headers: never in a URL, and on the stream as on the status calls.
        lock (urls)
        {
            Assert.All(urls, u => Assert.DoesNotContain(DashboardModels.ApiKey, Uri.UnescapeDataString(u), StringComparison.Ordinal));
            Assert.Contains("/v1/events", authorized);
            Assert.Contains("/v1/status", authorized);
        }
    }

    [SharedModelFact("stories260K/stories260K.gguf")]
    public async Task Page_WithAWrongKey_ShowsTheServersError_AndNoData()
    {
        await using var server = await ModelServerHost.StartAsync(DashboardModels.TwoStoriesConfig(), apiKey: DashboardModels.ApiKey);
        var page = await chromium.NewPageAsync();

        await page.GotoAsync(server.Address.ToString());
        await page.FillAsync("#key-input", "not-the-key");
        await page.ClickAsync("#key-form button[type=submit]");
        await page.Locator("#key-error").WaitForAsync(new() { State = WaitForSelectorState.Visible, Timeout = 10_000 });

        Assert.Contains("Incorrect API key provided", await page.Locator("#key-error").TextContentAsync(), StringComparison.Ordinal);
        Assert.False(await page.Locator("#dashboard").IsVisibleAsync());
        Assert.Equal(0, await page.Locator("#models tbody tr").CountAsync());
        Assert.Equal("error", await page.Locator("#connection").GetAttributeAsync("data-state"));
    }

    private static Task WithinUiBound(IPage page, string selector) =>
        page.Locator(selector).First.WaitForAsync(new() { State = WaitForSelectorState.Attached, Timeout = (float)UiBound.TotalMilliseconds });
}
