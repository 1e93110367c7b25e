namespace ModelManager.Tests;

public sealed class GenerationOptionsTests
{
    [Fact]
    public void Equals_ComparesEverySetting_AndStopSequencesByContent()
    {
        var a = new GenerationOptions { MaxTokens = 8, Temperature = 0.5, TopP = 0.9, TopK = 40, Seed = 7, DoSample = true, StopSequences = ["\n", "END"] };
        var b = new GenerationOptions { MaxTokens = 8, Temperature = 0.5, TopP = 0.9, TopK = 40, Seed = 7, DoSample = true, StopSequences = new List<string> { "\n", "END" } };

        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, b with { StopSequences = ["END", "\n"] });
        Assert.NotEqual(a, b with { Seed = 8 });
        Assert.NotEqual(a, b with { TopK = null });
        Assert.Equal(new GenerationOptions { StopSequences = [] }, new GenerationOptions());
    }

    [Fact]
    public void WithDefaults_FillsOnlyUnsetSettings_AndATemperatureTurnsSamplingOn()
    {
        var defaults = new GenerationOptions { MaxTokens = 64, Temperature = 0, DoSample = false, StopSequences = ["\n"] };

        var call = new GenerationOptions { Temperature = 0.8 }.WithDefaults(defaults);

        Assert.Equal(new GenerationOptions { MaxTokens = 64, Temperature = 0.8, DoSample = true, StopSequences = ["\n"] }, call);
        Assert.True(new GenerationOptions().WithDefaults(defaults).IsGreedy);
    }

    [Fact]
    public void Configured_Parameters_BindToGenerationOptions_WithDoSampleFollowingTheTemperature()
    {
        var (m, _) = FromJson(Config(100, Fake("a", 1, parameters: "\"temperature\": 0.7, \"max_tokens\": 12, \"top_k\": 5, \"stop\": \"###\"")));

        Assert.Equal(new GenerationOptions { Temperature = 0.7, DoSample = true, MaxTokens = 12, TopK = 5, StopSequences = ["###"] }, m.GetModels()[0].Parameters);
    }
}
