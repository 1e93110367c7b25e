using System.Runtime.InteropServices;
using System.Text;
using LLama;
using LLama.Native;

namespace ModelManager;

/// <summary>Adds llama.cpp's lazy grammar sampler to a sampler chain through the native signature, which LLamaSharp 0.30 binds wrongly.</summary>
/// <remarks>
/// LLamaSharp's <c>AddLazyGrammar</c> declares <c>llama_sampler_init_grammar_lazy_patterns</c> without its
/// <c>num_trigger_patterns</c> argument, so every later argument shifts and llama.cpp aborts the process
/// (<c>GGML_ASSERT(trigger_tokens != nullptr)</c>, seen here). This calls the same function with llama.h's signature,
/// on the library LLamaSharp loaded (its own import resolver answers <see cref="NativeLibrary.Load(string, System.Reflection.Assembly, DllImportSearchPath?)"/>).
/// Thread-safe.
/// </remarks>
internal static unsafe class LazyGrammarNative
{
    private static readonly Lazy<Exports> Native = new(Resolve);

    /// <summary>Adds a grammar that constrains the output from the first match of <paramref name="pattern"/>'s first group on.</summary>
    /// <exception cref="InvalidOperationException">llama.cpp could not build the grammar (it returned no sampler).</exception>
    public static void Add(SafeLLamaSamplerChainHandle chain, SafeLlamaModelHandle model, string gbnf, string root, string pattern)
    {
        var exports = Native.Value;
        var grammar = Utf8(gbnf);
        var start = Utf8(root);
        var trigger = Utf8(pattern);
        var chainAdded = false;
        var modelAdded = false;
        try
        {
            chain.DangerousAddRef(ref chainAdded);
            model.DangerousAddRef(ref modelAdded);
            var vocab = exports.GetVocab(model.DangerousGetHandle());
            IntPtr sampler;
            fixed (byte* g = grammar, r = start, t = trigger)
            {
                var patterns = stackalloc byte*[1];
                patterns[0] = t;
                sampler = exports.InitLazy(vocab, g, r, patterns, 1, null, 0);
            }

            if (sampler == IntPtr.Zero)
            {
                throw new InvalidOperationException("llama.cpp could not build the lazy grammar (llama_sampler_init_grammar_lazy_patterns returned null).");
            }

            exports.ChainAdd(chain.DangerousGetHandle(), sampler); // the chain owns the sampler from here
        }
        finally
        {
            if (modelAdded)
            {
                model.DangerousRelease();
            }

            if (chainAdded)
            {
                chain.DangerousRelease();
            }
        }
    }

    private static byte[] Utf8(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    private static Exports Resolve()
    {
        var library = NativeLibrary.Load("llama", typeof(LLamaWeights).Assembly, null);
        return new Exports(
            (delegate* unmanaged[Cdecl]<IntPtr, IntPtr>)NativeLibrary.GetExport(library, "llama_model_get_vocab"),
            (delegate* unmanaged[Cdecl]<IntPtr, byte*, byte*, byte**, nuint, int*, nuint, IntPtr>)NativeLibrary.GetExport(library, "llama_sampler_init_grammar_lazy_patterns"),
            (delegate* unmanaged[Cdecl]<IntPtr, IntPtr, void>)NativeLibrary.GetExport(library, "llama_sampler_chain_add"));
    }

    private sealed class Exports(
        delegate* unmanaged[Cdecl]<IntPtr, IntPtr> getVocab,
        delegate* unmanaged[Cdecl]<IntPtr, byte*, byte*, byte**, nuint, int*, nuint, IntPtr> initLazy,
        delegate* unmanaged[Cdecl]<IntPtr, IntPtr, void> chainAdd)
    {
        public IntPtr GetVocab(IntPtr model) => getVocab(model);

        public IntPtr InitLazy(IntPtr vocab, byte* grammar, byte* root, byte** patterns, nuint patternCount, int* tokens, nuint tokenCount) =>
            initLazy(vocab, grammar, root, patterns, patternCount, tokens, tokenCount);

        public void ChainAdd(IntPtr chain, IntPtr sampler) => chainAdd(chain, sampler);
    }
}
