using LLama;
using Microsoft.Extensions.Logging;

namespace ModelManager;

/// <summary>One load's weights for <see cref="HugePages"/>: the anonymous mappings before the load, and where the weights turned out to be.</summary>
internal sealed class WeightPlacement(GgufModelInfo info, List<(long Start, long End)> before)
{
    /// <summary>Below two whole 2 MB pages of weights there is nothing to gain.</summary>
    private const long Minimum = 4L << 20;

    /// <summary>Starts one for a load that can use huge pages (Linux with THP madvise, weights read into memory on the CPU), else null.</summary>
    public static WeightPlacement? Begin(LlamaSharpModelSettings settings, GgufModelInfo info, ILogger logger, string model)
    {
        var skip = !settings.HugePages ? null // huge_pages off: nothing to say
            : HugePages.Mode is null ? "no transparent huge pages here (not Linux, or no /sys/kernel/mm/transparent_hugepage)"
            : HugePages.Mode != "madvise" ? $"transparent huge pages are '{HugePages.Mode}' on this machine (always: the kernel chooses; never: none)"
            : settings.LoadMode != LLama.Native.LLamaLoadMode.None ? $"load_mode {settings.LoadMode} keeps the weights in file pages"
            : settings.GpuLayers != 0 ? "gpu_layers puts weights on the GPU"
            : info.TensorBytes < Minimum ? "the weights are smaller than two huge pages"
            : "";
        if (skip is not { Length: 0 })
        {
            if (skip is not null)
            {
                LlamaSharpLog.HugePagesSkipped(logger, model, skip);
            }

            return null;
        }

        try
        {
            return new WeightPlacement(info, HugePages.AnonymousMappings());
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return null; // /proc unreadable (a sandbox): the model loads on 4 KB pages
        }
    }

    /// <summary>The anonymous mappings once the weights are loaded (cheap: taken on the load path, before the context exists), or null (logged) when /proc cannot be read.</summary>
    public static List<(long Start, long End)>? AfterLoad(ILogger logger, string model)
    {
        try
        {
            return HugePages.AnonymousMappings();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            LlamaSharpLog.HugePagesSkipped(logger, model, $"/proc/self could not be read ({e.GetType().Name}: {e.Message})");
            return null;
        }
    }

    /// <summary>
    /// Off the load path: finds the weights among the mappings <paramref name="after"/> the load and collapses them into huge
    /// pages, holding the weights' handle throughout so that their memory cannot be freed and reused meanwhile; returns the
    /// bytes the kernel put in huge pages (0 when they were not found, or the model was unloaded first).
    /// </summary>
    public long Place(List<(long Start, long End)> after, LLamaWeights owner, Func<bool> loaded, ILogger logger, string model)
    {
        var held = false;
        try
        {
            owner.NativeHandle.DangerousAddRef(ref held);
            return loaded() && Find(after, logger, model) is { } weights ? Collapse(weights, loaded, logger, model) : 0;
        }
        catch (ObjectDisposedException)
        {
            return 0; // unloaded before the search began: the handle is closed
        }
        finally
        {
            if (held)
            {
                owner.NativeHandle.DangerousRelease();
            }
        }
    }

    /// <summary>Where the loaded weights are among the mappings <paramref name="after"/> the load: a range that begins with one of the model's tensors, or null (logged).</summary>
    public (long Start, long End)? Find(List<(long Start, long End)> after, ILogger logger, string model)
    {
        try
        {
            // The parts of the mappings that are new since the load began; when the buffer reused addresses another model
            // freed meanwhile, or the kernel merged it with neighbours, the whole mappings that hold any new part; when it
            // took exactly the addresses of a mapping freed during the load (nothing looks new), any mapping large enough.
            // The content check is what proves a range is these weights; the order only prefers the likeliest ranges.
            // Failing those, the mappings whose bounds changed during the load are read whole: the buffer's own mapping
            // merged with neighbours on both sides lies inside one. Last, the other large mappings are read whole too: a
            // buffer that took exactly the addresses of one freed during the load (another model's, unloaded meanwhile)
            // and merged with the same neighbours leaves its mapping's bounds as they were. Off the load path, and only
            // when everything else failed, so the cost (about 0.5 ms per MiB) is rarely paid.
            var large = after.Where(m => m.End - m.Start >= info.TensorBytes).ToList();
            var fresh = HugePages.NewRanges(before, after, 1);
            var unchanged = before.ToHashSet();
            var found = HugePages.FindWeights(
                HugePages.NewRanges(before, after, info.TensorBytes)
                    .Concat(large.Where(m => fresh.Any(f => f.Start < m.End && f.End > m.Start)))
                    .Concat(large)
                    .Distinct(),
                info,
                scanWhole: large.OrderBy(unchanged.Contains)); // changed first (a stable sort keeps address order)

            if (found is null)
            {
                LlamaSharpLog.HugePagesSkipped(logger, model, "no new anonymous mapping begins with the model's tensors");
            }

            return found;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            LlamaSharpLog.HugePagesSkipped(logger, model, $"/proc/self could not be read ({e.GetType().Name}: {e.Message})");
            return null;
        }
    }

    /// <summary>Collapses the weights into huge pages while the model stays loaded (the caller holds the weights' handle), then reports the bytes the kernel put in huge pages.</summary>
    private static long Collapse((long Start, long End) weights, Func<bool> loaded, ILogger logger, string model)
    {
        try
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            if (!loaded() || !HugePages.Collapse(weights, loaded))
            {
                return 0;
            }

            var bytes = HugePages.HugeBytes([weights]);
            LlamaSharpLog.HugePagesUsed(logger, model, bytes / (1024.0 * 1024), (weights.End - weights.Start) / (1024.0 * 1024),
                System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return bytes;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            LlamaSharpLog.HugePagesSkipped(logger, model, $"/proc/self/smaps could not be read ({e.GetType().Name}: {e.Message})");
            return 0;
        }
    }
}
