using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;
using ModelManager.IntegrationTests.OpenAI;

namespace ModelManager.IntegrationTests;

/// <summary>The one-node model the ONNX backend starts both runtimes on before it measures a real model's load.</summary>
public sealed class OnnxRuntimeStartTests
{
    [Fact]
    public void IdentityModel_IsAModelOnnxRuntimeLoadsAndRuns_YEqualsX()
    {
        using var session = new InferenceSession(OnnxRuntimeStart.IdentityModel);

        Assert.Equal(["x"], session.InputMetadata.Keys);
        Assert.Equal(["y"], session.OutputMetadata.Keys);
        Assert.Equal(typeof(float), session.InputMetadata["x"].ElementType);
        Assert.Equal([1], session.InputMetadata["x"].Dimensions);

        using var input = OrtValue.CreateTensorValueFromMemory(new[] { 3.25f }, [1]);
        using var outputs = session.Run(new RunOptions(), ["x"], [input], ["y"]);
        Assert.Equal([3.25f], outputs[0].GetTensorDataAsSpan<float>().ToArray());
    }

    [Fact]
    public async Task StartOnnxRuntime_LoadsTheStartModel_AndLogsItsCostAtDebug()
    {
        var log = new LogCapture();
        using var factory = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Trace));

        await OgaRuntime.LoadGate.WaitAsync();
        try
        {
            Assert.True(OnnxRuntimeStart.StartOnnxRuntime(factory.CreateLogger("test")));
        }
        finally
        {
            OgaRuntime.LoadGate.Release();
        }

        var started = Assert.Single(log.Entries, e => e.EventId == 3003);
        Assert.Equal(LogLevel.Debug, started.Level);
        Assert.Contains("ONNX Runtime started on its one-node start model", started.Message, StringComparison.Ordinal);
        Assert.Equal(0, log.Count(3004));
    }

    [Fact]
    public async Task StartGenAI_LoadsTheStartModelsConfigModelAndTokenizer_AndRemovesItsFolder()
    {
        var log = new LogCapture();
        using var factory = LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Trace));

        using (OgaRuntime.Acquire())
        {
            await OgaRuntime.LoadGate.WaitAsync();
            try
            {
                // Unconditional (EnsureGenAI would return at once when this process's GenAI already started): GenAI must accept the model.
                Assert.True(OnnxRuntimeStart.StartGenAI(factory.CreateLogger("test")), string.Join("\n", log.AllText));
            }
            finally
            {
                OgaRuntime.LoadGate.Release();
            }
        }

        Assert.Equal(0, log.Count(3004));
        Assert.Contains(log.Entries, e => e.EventId == 3003 && e.Message.StartsWith("ONNX Runtime GenAI started", StringComparison.Ordinal));
        string prefix = OnnxRuntimeStart.StartFolderPrefix;
        Assert.Empty(Directory.EnumerateDirectories(Path.GetDirectoryName(prefix)!, Path.GetFileName(prefix) + "*"));
    }
}
