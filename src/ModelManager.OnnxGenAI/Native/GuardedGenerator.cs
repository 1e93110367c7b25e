using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager;

/// <summary>An OGA <see cref="Generator"/> whose finalizer is safe when its constructor failed.</summary>
/// <remarks>
/// OGA's classes destroy their native handle in a finalizer even when their constructor threw and the handle is null, and
/// some destroy functions crash on null (OgaDestroyTokenizer segfaults). This subclass skips the destroy unless the
/// constructor succeeded, so a failed load leaves nothing behind that can crash the process later.
/// </remarks>
internal sealed class GuardedGenerator : Generator
{
    private readonly bool _created;

    public GuardedGenerator(Model model, GeneratorParams parameters)
        : base(model, parameters)
    {
        _created = true;
    }

    protected override void Dispose(bool disposing)
    {
        if (_created)
        {
            base.Dispose(disposing);
        }
    }
}
