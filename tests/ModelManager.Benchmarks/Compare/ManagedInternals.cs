using System.Reflection;
using LLama;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager.Benchmarks.Compare;

/// <summary>
/// The native objects a loaded model holds, reached by reflection, so a baseline can run on the very same weights.
/// </summary>
/// <remarks>
/// On this machine (a KVM guest) the decode speed of a 160 MB weight buffer depended on where it landed in memory by up to
/// 20% (later loads ran faster); a baseline on a second copy would measure that, not the manager. Returns null when the
/// private fields are renamed, and callers then load a copy of their own.
/// </remarks>
internal static class ManagedInternals
{
    public static LLamaWeights? GgufWeights(DefaultModelManager manager, string name) =>
        Field(manager.GetEntry(name).Instance, "_weights") as LLamaWeights;

    public static (Model Model, Tokenizer Tokenizer)? OnnxModel(DefaultModelManager manager, string name)
    {
        var instance = manager.GetEntry(name).Instance;
        return Field(instance, "_native") is Model model && Field(instance, "_tokenizer") is Tokenizer tokenizer ? (model, tokenizer) : null;
    }

    private static object? Field(object? instance, string name) =>
        instance?.GetType().GetField(name, BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(instance);
}
