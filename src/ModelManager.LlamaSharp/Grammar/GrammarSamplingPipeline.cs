using System.Text;
using LLama.Native;
using LLama.Sampling;

namespace ModelManager;

/// <summary>Greedy or sampled decoding under an <see cref="OutputConstraint"/>: the output cannot leave the grammar.</summary>
/// <remarks>
/// The grammar is applied to the one token the sampler picks first and, only when it rejects that token, to the whole
/// vocabulary. For greedy decoding that is exactly "mask, then take the best"; for sampling, drawing from the unmasked
/// distribution and redrawing from the masked one on rejection gives the masked distribution. So the common token costs
/// one grammar check instead of a pass over the vocabulary. Used by one sequence on the generator's loop; not thread-safe.
/// </remarks>
internal sealed class GrammarSamplingPipeline : BaseSamplingPipeline
{
    private readonly OutputConstraint _constraint;
    private readonly SamplingSettings? _sampling;
    private SafeLLamaSamplerChainHandle? _grammar;
    private LLamaTokenData[]? _candidates;
    private readonly LLamaTokenData[] _single = new LLamaTokenData[1];

    /// <summary>A pipeline under <paramref name="constraint"/>; greedy when <paramref name="sampling"/> is null.</summary>
    public GrammarSamplingPipeline(OutputConstraint constraint, SamplingSettings? sampling)
    {
        _constraint = constraint;
        _sampling = sampling;
    }

    public override LLamaToken Sample(SafeLLamaContextHandle ctx, int index)
    {
        _grammar ??= CreateGrammar(ctx);
        var logits = ctx.GetLogitsIth(index);
        _candidates ??= new LLamaTokenData[logits.Length];

        // First pick, without the grammar.
        var all = LLamaTokenDataArray.Create(logits, _candidates);
        LLamaToken pick;
        using (LLamaTokenDataArrayNative.Create(all, out var native))
        {
            Apply(ctx, ref native);
            pick = native.Data[checked((int)native.Selected)].ID;
        }

        _single[0] = new LLamaTokenData(pick, 1, 0);
        using (LLamaTokenDataArrayNative.Create(new LLamaTokenDataArray(_single, true), out var one))
        {
            _grammar.Apply(ref one);
            if (!float.IsNegativeInfinity(one.Data[0].Logit))
            {
                Accept(pick);
                return pick;
            }
        }

        // Rejected: mask the whole vocabulary, then pick again.
        all = LLamaTokenDataArray.Create(logits, _candidates);
        using (LLamaTokenDataArrayNative.Create(all, out var native))
        {
            _grammar.Apply(ref native);
            Apply(ctx, ref native);
            pick = native.Data[checked((int)native.Selected)].ID;
        }

        Accept(pick);
        return pick;
    }

    public override void Accept(LLamaToken token)
    {
        base.Accept(token);
        _grammar?.Accept(token);
    }

    public override void Reset()
    {
        base.Reset();
        _grammar?.Reset();
    }

    public override void Dispose()
    {
        _grammar?.Dispose();
        _grammar = null;
        base.Dispose();
    }

    protected override SafeLLamaSamplerChainHandle CreateChain(SafeLLamaContextHandle context)
    {
        var chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        if (_sampling is not { } s)
        {
            chain.AddGreedySampler();
            return chain;
        }

        chain.AddTopK(s.TopK);
        chain.AddTopP(s.TopP, 1);
        chain.AddMinP(0.1f, 1); // as LLamaSharp's DefaultSamplingPipeline, which unconstrained sampling uses
        chain.AddTemperature(s.Temperature);
        chain.AddDistributionSampler(s.Seed);
        return chain;
    }

    private SafeLLamaSamplerChainHandle CreateGrammar(SafeLLamaContextHandle context)
    {
        var chain = SafeLLamaSamplerChainHandle.Create(LLamaSamplerChainParams.Default());
        if (_constraint.Trigger is { } trigger)
        {
            // llama.cpp matches the pattern against the whole output so far; the grammar starts at the first group.
            LazyGrammarNative.Add(chain, context.ModelHandle, _constraint.Gbnf, JsonSchemaGrammar.RootRule, LazyPattern(trigger));
        }
        else
        {
            chain.AddGrammar(context.ModelHandle, _constraint.Gbnf, JsonSchemaGrammar.RootRule);
        }

        return chain;
    }

    /// <summary>The ECMAScript pattern llama.cpp's lazy grammar waits for: anything, then the trigger text (the first group).</summary>
    internal static string LazyPattern(string trigger)
    {
        var escaped = new StringBuilder();
        foreach (var c in trigger)
        {
            if ("\\^$.|?*+()[]{}/".Contains(c, StringComparison.Ordinal))
            {
                escaped.Append('\\');
            }

            escaped.Append(c);
        }

        return "[\\s\\S]*?(" + escaped + "[\\s\\S]*)";
    }
}
