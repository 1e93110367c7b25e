using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager;

// Loading: the native objects created in order, each failure naming the stage it happened in.
internal sealed partial class OnnxGenAIModel
{
    /// <summary>Creates the native objects for <paramref name="model"/>; the caller holds <see cref="OgaRuntime.LoadGate"/> so the measured growth is this load's.</summary>
    /// <exception cref="ModelLoadException">ONNX Runtime GenAI refused the model, a provider or the configured chat template; carries its message.</exception>
    public static OnnxGenAIModel Load(ModelDescriptor model, OnnxModelFolder folder, OnnxGenAIModelSettings settings, ILogger logger)
    {
        var runtime = OgaRuntime.Acquire();
        Config? config = null;
        Model? native = null;
        Tokenizer? tokenizer = null;
        var stage = $"reading {OnnxModelFolder.ConfigFileName}";
        var started = Stopwatch.GetTimestamp();
        try
        {
            OnnxRuntimeStart.EnsureOnnxRuntime(logger);
            OnnxRuntimeStart.EnsureGenAI(logger); // the runtimes' one-time start is the process's, not this model's
            var before = Environment.WorkingSet;
            config = new GuardedOga.Config(folder.Directory);
            config.ClearProviders();
            foreach (var provider in settings.Providers)
            {
                stage = $"appending execution provider '{provider}'";
                config.AppendProvider(provider);
            }

            if (settings.ContextLength < folder.ContextLength)
            {
                // ONNX Runtime then enforces the shorter context itself, and sizes any preallocated KV buffers to it.
                config.Overlay("{\"model\":{\"context_length\":" + settings.ContextLength.ToString(CultureInfo.InvariantCulture) + "}}");
            }

            stage = settings.Providers.Count == 0
                ? $"loading {Path.GetFileName(folder.Files[0].Path)}"
                : $"loading {Path.GetFileName(folder.Files[0].Path)} with providers [{string.Join(", ", settings.Providers)}]";
            native = new GuardedOga.Model(config);
            stage = "loading the tokenizer (tokenizer.json, tokenizer_config.json)";
            tokenizer = new GuardedOga.Tokenizer(native);
            var growth = Environment.WorkingSet - before;

            stage = "applying the configured chat_template";
            var chat = ResolveChatFormat(model, settings, tokenizer, logger);
            var memory = Math.Max(growth, folder.OnnxBytes);
            config.Dispose();
            var instance = new OnnxGenAIModel(model, folder, settings, native, tokenizer, runtime, chat, memory);
            OnnxGenAILog.Loaded(logger, model.Name, folder.ModelType, Stopwatch.GetElapsedTime(started).TotalMilliseconds, settings.ContextLength, settings.Parallel,
                string.Join(", ", settings.Providers), chat, growth / 1048576.0, folder.OnnxBytes / 1048576.0);
            return instance;
        }
        catch (Exception e)
        {
            tokenizer?.Dispose();
            native?.Dispose();
            config?.Dispose();
            runtime.Dispose();
            if (e is OnnxRuntimeGenAIException)
            {
                throw new ModelLoadException(model.Name,
                    $"ONNX Runtime GenAI could not load model '{model.Name}' from {folder.Directory} while {stage}: {e.Message}", e);
            }

            throw;
        }
    }
}
