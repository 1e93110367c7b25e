using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager;

/// <summary>An OGA <see cref="Model"/> whose finalizer is safe when its constructor failed.</summary>
/// <remarks>
/// OGA's classes destroy their native handle in a finalizer even when their constructor threw and the handle is null, and
/// some destroy functions crash on null (OgaDestroyTokenizer segfaults). This subclass skips the destroy unless the
/// constructor succeeded, so a failed load leaves nothing behind that can crash the process later.
/// </remarks>
internal sealed class GuardedModel : Model
{
    private readonly bool _created;

    public GuardedModel(Config config)
        : base(config)
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
