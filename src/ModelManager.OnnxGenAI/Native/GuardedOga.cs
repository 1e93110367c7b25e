using OgaConfig = Microsoft.ML.OnnxRuntimeGenAI.Config;
using OgaGenerator = Microsoft.ML.OnnxRuntimeGenAI.Generator;
using OgaGeneratorParams = Microsoft.ML.OnnxRuntimeGenAI.GeneratorParams;
using OgaModel = Microsoft.ML.OnnxRuntimeGenAI.Model;
using OgaTokenizer = Microsoft.ML.OnnxRuntimeGenAI.Tokenizer;

namespace ModelManager;

/// <summary>The OGA classes this backend creates, as subclasses whose finalizer is safe when their constructor failed.</summary>
/// <remarks>
/// OGA's classes destroy their native handle in a finalizer even when their constructor threw and the handle is null, and
/// some destroy functions crash on null (OgaDestroyTokenizer segfaults). Each subclass skips the destroy unless its
/// constructor succeeded, so a failed load leaves nothing behind that can crash the process later. The OGA classes share
/// no base class, so the guard is one flag and one override per class.
/// </remarks>
internal static class GuardedOga
{
    /// <summary>A guarded <see cref="OgaConfig"/>.</summary>
    public sealed class Config : OgaConfig
    {
        private readonly bool _created;

        public Config(string modelDirectory)
            : base(modelDirectory) => _created = true;

        protected override void Dispose(bool disposing)
        {
            if (_created)
            {
                base.Dispose(disposing);
            }
        }
    }

    /// <summary>A guarded <see cref="OgaModel"/>.</summary>
    public sealed class Model : OgaModel
    {
        private readonly bool _created;

        public Model(OgaConfig config)
            : base(config) => _created = true;

        protected override void Dispose(bool disposing)
        {
            if (_created)
            {
                base.Dispose(disposing);
            }
        }
    }

    /// <summary>A guarded <see cref="OgaTokenizer"/>.</summary>
    public sealed class Tokenizer : OgaTokenizer
    {
        private readonly bool _created;

        public Tokenizer(OgaModel model)
            : base(model) => _created = true;

        protected override void Dispose(bool disposing)
        {
            if (_created)
            {
                base.Dispose(disposing);
            }
        }
    }

    /// <summary>Guarded <see cref="OgaGeneratorParams"/>.</summary>
    public sealed class GeneratorParams : OgaGeneratorParams
    {
        private readonly bool _created;

        public GeneratorParams(OgaModel model)
            : base(model) => _created = true;

        protected override void Dispose(bool disposing)
        {
            if (_created)
            {
                base.Dispose(disposing);
            }
        }
    }

    /// <summary>A guarded <see cref="OgaGenerator"/>.</summary>
    public sealed class Generator : OgaGenerator
    {
        private readonly bool _created;

        public Generator(OgaModel model, OgaGeneratorParams parameters)
            : base(model, parameters) => _created = true;

        protected override void Dispose(bool disposing)
        {
            if (_created)
            {
                base.Dispose(disposing);
            }
        }
    }
}
