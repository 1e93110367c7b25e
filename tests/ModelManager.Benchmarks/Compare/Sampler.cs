namespace ModelManager.Benchmarks.Compare;

/// <summary>Runs variants of a measurement in alternating order, so drift (thermal, page cache, other load) hits them alike.</summary>
internal static class Sampler
{
    /// <summary>
    /// Runs every variant once per run, rotating which goes first (A B, B A, ... for two), after one unrecorded warm-up of
    /// each unless <paramref name="warmUp"/> is false. Returns one list of samples per variant.
    /// </summary>
    public static async Task<List<double>[]> RotateAsync(int runs, bool warmUp, CancellationToken cancellationToken, params Func<Task<double>>[] variants)
    {
        var samples = variants.Select(_ => new List<double>(runs)).ToArray();
        if (warmUp)
        {
            foreach (var v in variants)
            {
                await v().ConfigureAwait(false);
            }
        }

        for (var run = 0; run < runs; run++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (var k = 0; k < variants.Length; k++)
            {
                // Two variants: ABBA order. More: rotate the starting variant.
                var index = variants.Length == 2 ? (run % 2 == 0 ? k : 1 - k) : (k + run) % variants.Length;
                samples[index].Add(await variants[index]().ConfigureAwait(false));
            }
        }

        return samples;
    }
}
