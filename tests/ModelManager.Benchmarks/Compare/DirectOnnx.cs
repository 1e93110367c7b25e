using System.Diagnostics;
using System.Text;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager.Benchmarks.Compare;

/// <summary>The ONNX baseline: ONNX Runtime GenAI's own Model, Tokenizer and Generator loop, without the manager.</summary>
/// <remarks>Creates no OgaHandle: the manager's runtime holds the process's one; dispose this before the manager.</remarks>
internal sealed class DirectOnnx : IDisposable
{
    private readonly Config? _config;
    private readonly Model _model;
    private readonly Tokenizer _tokenizer;
    private readonly bool _owns;

    /// <summary>Loads the model folder itself (CPU).</summary>
    public DirectOnnx(string folder)
    {
        _config = new Config(folder);
        _config.ClearProviders();
        _model = new Model(_config);
        _tokenizer = new Tokenizer(_model);
        _owns = true;
    }

    /// <summary>Runs on a model and tokenizer someone else owns (the manager's, so both sides use the same weights).</summary>
    public DirectOnnx(Model model, Tokenizer tokenizer)
    {
        _model = model;
        _tokenizer = tokenizer;
    }

    /// <summary>True when this baseline loaded its own copy of the model.</summary>
    public bool OwnsModel => _owns;

    /// <summary>Greedy generation of <paramref name="maxTokens"/> tokens, decoding text through a TokenizerStream as an app would.</summary>
    public Generated Generate(string prompt, int maxTokens)
    {
        var watch = Stopwatch.StartNew();
        using var sequences = _tokenizer.Encode(prompt);
        var ids = sequences[0];
        using var parameters = new GeneratorParams(_model);
        parameters.SetSearchOption("max_length", ids.Length + maxTokens);
        parameters.SetSearchOption("do_sample", false);
        using var generator = new Generator(_model, parameters);
        using var stream = _tokenizer.CreateStream();
        generator.AppendTokens(ids);
        var text = new StringBuilder();
        var count = 0;
        while (!generator.IsDone())
        {
            generator.GenerateNextToken();
            text.Append(stream.Decode(generator.GetNextTokens()[0]));
            count++;
        }

        return new Generated(text.ToString(), count, watch.Elapsed);
    }

    public void Dispose()
    {
        if (_owns)
        {
            _tokenizer.Dispose();
            _model.Dispose();
            _config?.Dispose();
        }
    }
}
