using Microsoft.Playwright;

namespace ModelManager.IntegrationTests.Dashboard;

/// <summary>Debian's headless Chromium (<c>/usr/bin/chromium</c>, which <c>./build.sh test</c> installs) driven by Playwright, shared by a test class.</summary>
/// <remarks>Playwright's driver ships in its package and runs offline; no browser is downloaded.</remarks>
public sealed class HeadlessChromium : IAsyncLifetime
{
    /// <summary>Where Debian's chromium package puts the browser.</summary>
    public const string ExecutablePath = "/usr/bin/chromium";

    private IPlaywright? _playwright;
    private IBrowser? _browser;

    public async Task InitializeAsync()
    {
        if (File.Exists(ExecutablePath)) // else the tests are skipped, or (under CI) fail in NewPageAsync
        {
            _playwright = await Playwright.CreateAsync();
            _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { ExecutablePath = ExecutablePath, Headless = true });
        }
    }

    /// <summary>A fresh page (its own context, so its own sessionStorage) at a desktop size.</summary>
    public async Task<IPage> NewPageAsync()
    {
        var browser = _browser ?? throw new FileNotFoundException($"{ExecutablePath} is missing: apt-get install -y chromium chromium-driver (./build.sh test does it).", ExecutablePath);
        var context = await browser.NewContextAsync(new BrowserNewContextOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        return await context.NewPageAsync();
    }

    public async Task DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.DisposeAsync();
        }

        _playwright?.Dispose();
    }
}
