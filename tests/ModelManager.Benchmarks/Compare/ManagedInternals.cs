using LLama;
using Microsoft.ML.OnnxRuntimeGenAI;

namespace ModelManager.Benchmarks.Compare;

/// <summary>
/// The native objects a loaded model holds, reached through <see cref="ModelLease.GetService"/>, so a baseline can run on
/// the very same weights.
/// </summary>
/// <remarks>
/// On this machine (a KVM guest) the decode speed of a 160 MB weight buffer depended on where it landed in memory by up to
/// 20% (later loads ran faster); a baseline on a second copy would measure that, not the manager. The benchmark's budget
/// never evicts the model, so the objects stay valid after the lease that found them ends. Returns null when the backend
/// does not expose them, and callers then load a copy of their own.
/// </remarks>
internal static class ManagedInternals
{
    public static async Task<LLamaWeights?> GgufWeightsAsync(IModelManager manager, string name)
    {
        await using var lease = await manager.AcquireAsync(name).ConfigureAwait(false);
        return lease.GetService(typeof(LLamaWeights)) as LLamaWeights;
    }

    public static async Task<(Model Model, Tokenizer Tokenizer)?> OnnxModelAsync(IModelManager manager, string name)
    {
        await using var lease = await manager.AcquireAsync(name).ConfigureAwait(false);
        return lease.GetService(typeof(Model)) is Model model && lease.GetService(typeof(Tokenizer)) is Tokenizer tokenizer ? (model, tokenizer) : null;
    }
}
