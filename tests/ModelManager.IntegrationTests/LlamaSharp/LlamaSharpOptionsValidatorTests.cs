using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ModelManager.IntegrationTests;

public sealed class LlamaSharpOptionsValidatorTests
{
    [Fact]
    public void Validate_Defaults_Succeed()
    {
        Assert.True(new LlamaSharpOptionsValidator().Validate(null, new LlamaSharpOptions()).Succeeded);
    }

    [Fact]
    public void Validate_EveryBadValue_IsReportedAtOnce_NamingTheProperty()
    {
        var options = new LlamaSharpOptions { DefaultParallel = 257, DefaultContextLength = 0, NativeLogLevel = (LogLevel)42 };

        var result = new LlamaSharpOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        Assert.Equal(
            [
                "LlamaSharpOptions.DefaultParallel must be between 1 and 256, got 257",
                "LlamaSharpOptions.DefaultContextLength must be at least 1, got 0",
                "LlamaSharpOptions.NativeLogLevel must be one of Trace, Debug, Information, Warning, Error, Critical, None, got 42",
            ],
            result.Failures);
    }

    [Fact]
    public void AddLlamaSharp_ValidatesTheOptionsAtStartUp()
    {
        var path = Path.Combine(TestCache.NewScratchDirectory(), "config.json");
        File.WriteAllText(path, """{ "max_memory_mb": 64, "models": [] }""");
        var services = new ServiceCollection();
        services.AddModelManager(path).AddLlamaSharp(o => o.DefaultParallel = 0);
        using var provider = services.BuildServiceProvider();

        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<LlamaSharpOptions>>().Value);

        Assert.Equal(["LlamaSharpOptions.DefaultParallel must be between 1 and 256, got 0"], e.Failures);
        Assert.Contains(provider.GetServices<IValidateOptions<LlamaSharpOptions>>(), v => v is LlamaSharpOptionsValidator);
    }
}
