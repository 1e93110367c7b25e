using LLama;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager.Benchmarks.Compare;

/// <summary>
/// The native objects a loaded model holds, asked of its instance through <see cref="IModelInstance.GetService"/>, so a
/// baseline can run on the very same weights.
/// </summary>
/// <remarks>
/// On this machine (a KVM guest) the decode speed of a 160 MB weight buffer depended on where it landed in memory by up to
/// 20% (later loads ran faster); a baseline on a second copy would measure that, not the manager. Returns null when the
/// model is not loaded or its backend offers no such object, and callers then load a copy of their own.
/// </remarks>
internal static class ManagedInternals
{
    public static LLamaWeights? GgufWeights(DefaultModelManager manager, string name) =>
        manager.GetEntry(name).Instance?.GetService(typeof(LLamaWeights)) as LLamaWeights;

    public static (Model Model, Tokenizer Tokenizer)? OnnxModel(DefaultModelManager manager, string name)
    {
        var instance = manager.GetEntry(name).Instance;
        return instance?.GetService(typeof(Model)) is Model model && instance.GetService(typeof(Tokenizer)) is Tokenizer tokenizer ? (model, tokenizer) : null;
    }
}
