using System.Globalization;
using System.Runtime.InteropServices;

namespace ModelManager;

/// <summary>
/// Transparent huge pages for a gguf model's weights on Linux: llama.cpp reads the weights into an anonymous buffer of 4 KB
/// pages, and every weight read of a decode step can miss the TLB (2 MB pages were worth 2-11% of decode speed on the
/// 2-core guest, in the benchmarks' placement rows). Once the model is loaded the
/// backend finds that buffer and, off the load path, asks the kernel to back it with 2 MB pages: <c>madvise(MADV_HUGEPAGE)</c>
/// and <c>madvise(MADV_COLLAPSE)</c> (kernel 6.1 or later; before that khugepaged collapses the advised range in its own time).
/// No system setting changes, and a load does not wait for it.
/// </summary>
/// <remarks>
/// <para>
/// The buffer is looked for in anonymous ranges at least as large as the model's tensor bytes, those that appeared during the
/// load first (<see cref="WeightPlacement.Find"/>), and checked against the model: the range must begin with the bytes of
/// one of the model's tensors as the file has them (<see cref="FindWeights"/>). Only that range, cut to the weights' size,
/// is advised, so memory that does not hold the model's weights is never touched. Advised before the read instead, the
/// 160 MB load took about 50 ms or 313–380 ms (direct: 95 ms) on the CI guest (fresh guest memory behind each 2 MB page),
/// so the advice comes after the read and the copy runs in the background.
/// </para>
/// <para>Does nothing on other OSes, when THP is <c>never</c> or <c>always</c> (the kernel's own choice), or for <c>load_mode</c> mmap (file pages).</para>
/// </remarks>
internal static partial class HugePages
{
    private const int MadvHugePage = 14;
    private const int MadvCollapse = 25;

    /// <summary>How much one <c>MADV_COLLAPSE</c> call copies, so that an unload waits for at most one such call.</summary>
    private const long CollapseChunk = 32L << 20;
    private const long HugePageBytes = 2L << 20;
    private const long PageBytes = 4096;

    /// <summary>How far into a page <see cref="FindWeights"/>' page scan looks for the buffer's start.</summary>
    private const int PageHead = 256;

    /// <summary>How much of a range the page scan reads at a time.</summary>
    private const int Block = 1 << 20;
    private const string EnabledPath = "/sys/kernel/mm/transparent_hugepage/enabled";

    /// <summary>The machine's THP mode (<c>always</c>, <c>madvise</c>, <c>never</c>), or null where there is none (not Linux, no THP).</summary>
    public static string? Mode { get; } = ReadMode();

    /// <summary>True when advising can change anything: Linux with THP <c>madvise</c> or <c>always</c>.</summary>
    public static bool Available => Mode is "madvise" or "always";

    /// <summary>The anonymous read-write mappings of the process now, as [start, end) address ranges.</summary>
    public static List<(long Start, long End)> AnonymousMappings()
    {
        var ranges = new List<(long, long)>();
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            // "start-end perms offset dev inode [path]": anonymous = inode 0 and no path.
            var parts = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 5 || parts.Length > 5 && parts[5].Trim().Length > 0 || parts[1] != "rw-p" || parts[4] != "0")
            {
                continue;
            }

            var dash = parts[0].IndexOf('-', StringComparison.Ordinal);
            ranges.Add((long.Parse(parts[0].AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture),
                        long.Parse(parts[0].AsSpan(dash + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
        }

        return ranges;
    }

    /// <summary>The address ranges of <paramref name="after"/> that <paramref name="before"/> did not have, at least <paramref name="minBytes"/> long.</summary>
    public static List<(long Start, long End)> NewRanges(List<(long Start, long End)> before, List<(long Start, long End)> after, long minBytes)
    {
        var sorted = before.OrderBy(r => r.Start).ToList();
        var result = new List<(long, long)>();
        foreach (var (start, end) in after)
        {
            var cursor = start;
            foreach (var (s, e) in sorted)
            {
                if (e <= cursor || s >= end)
                {
                    continue;
                }

                if (s > cursor)
                {
                    Add(cursor, s);
                }

                cursor = Math.Max(cursor, e);
            }

            Add(cursor, end);
        }

        return result;

        void Add(long s, long e)
        {
            if (e - s >= minBytes)
            {
                result.Add((s, e));
            }
        }
    }

    /// <summary>
    /// Advises the whole 2 MB pages of <paramref name="range"/> for huge pages and collapses them, a chunk at a time while
    /// <paramref name="keepGoing"/> says so; returns false when the kernel refused the advice.
    /// </summary>
    public static bool Collapse((long Start, long End) range, Func<bool> keepGoing)
    {
        var start = (range.Start + HugePageBytes - 1) & ~(HugePageBytes - 1);
        var end = range.End & ~(HugePageBytes - 1);
        if (end <= start || Madvise((nint)start, (nuint)(end - start), MadvHugePage) != 0)
        {
            return false;
        }

        for (var chunk = start; chunk < end && keepGoing(); chunk += CollapseChunk)
        {
            // EINVAL before kernel 6.1 (khugepaged collapses the advised range later), EAGAIN/ENOMEM when no huge page is free now.
            if (Madvise((nint)chunk, (nuint)Math.Min(CollapseChunk, end - chunk), MadvCollapse) != 0 && Marshal.GetLastPInvokeError() == 22)
            {
                break;
            }
        }

        return true;
    }

    /// <summary>
    /// The first range of <paramref name="ranges"/> (in their order) that holds the model's weights, cut to their size: the
    /// one whose first 64 KB (or, when the kernel merged the buffer's mapping with one made just before it, the stretch where
    /// a buffer of the weights' size would begin at the range's end) hold, at a 32-byte boundary, one of the model's tensors
    /// as the file has it. When no range has them there, the ranges of <paramref name="scanWhole"/> are read whole, looking
    /// near the start of every page (<see cref="PageHead"/>): the buffer's own mapping can lie inside a larger range when the
    /// kernel merged it with neighbours on both sides, in addresses another mapping held when the load began. That read
    /// costs about 0.5 ms per MiB here, so it comes last, and the caller lists the ranges that changed during the load first. Null when none holds them.
    /// </summary>
    /// <remarks>
    /// A 32-byte probe finds the candidates (probes that repeat, such as 1.0f norm weights, are not used:
    /// <see cref="Periodic"/>); a candidate counts only when the tensor's first 4 KB (all of it when smaller), and its last
    /// 4 KB when it is larger than 8 KB, equal the file's, and the range has room for the weights from there, so a stray copy
    /// of some of its bytes (a probe buffer, a freed scratch allocation) is not taken for the weights. Memory is read through
    /// <c>/proc/self/mem</c>, which fails with an I/O error where nothing is mapped, so a range freed meanwhile (another
    /// thread's allocation) cannot crash the process.
    /// </remarks>
    public static (long Start, long End)? FindWeights(IEnumerable<(long Start, long End)> ranges, GgufModelInfo info, IEnumerable<(long Start, long End)>? scanWhole = null)
    {
        // Every buffer the search reads into ends up holding copies of the model's bytes: pinned, so that a hit inside one
        // of them is known for what it is, and wiped before they are freed, so that no later search finds a stale copy.
        using var scratch = Scratch.For(info);
        return FindWeightsWith(ranges, info, scanWhole, scratch);
    }

    /// <summary><see cref="FindWeights"/> with the caller's buffers (tests look into them).</summary>
    internal static (long Start, long End)? FindWeightsWith(IEnumerable<(long Start, long End)> ranges, GgufModelInfo info, IEnumerable<(long Start, long End)>? scanWhole, Scratch scratch)
    {
        const int Probe = Scratch.Probe, Confirm = Scratch.Confirm;
        var slack = Scratch.Slack(info);
        var (probe, expected, actual, window, block) = (scratch[0], scratch[1], scratch[2], scratch[3], scratch[4]);

        using var file = File.OpenHandle(info.FilePath);
        var signatures = new Dictionary<string, GgufTensorInfo>(StringComparer.Ordinal); // a tensor's first 32 bytes → the tensor
        var heads = new Dictionary<ulong, GgufTensorInfo>(); // its first 8 bytes, for the page scan (no string per position)
        foreach (var tensor in info.Tensors.Where(t => t.ByteSize >= Probe))
        {
            if (RandomAccess.Read(file, probe, info.DataOffset + tensor.Offset) == Probe && !Periodic(probe))
            {
                signatures.TryAdd(Convert.ToHexString(probe), tensor);
                heads.TryAdd(BitConverter.ToUInt64(probe), tensor);
            }
        }

        if (signatures.Count == 0)
        {
            return null;
        }

        using var memory = File.OpenHandle("/proc/self/mem");
        foreach (var (start, end) in ranges)
        {
            // The buffer's own mapping begins the range, or ends it when the kernel merged it with a neighbour mapped just
            // before it (another thread's allocation): look at both places.
            foreach (var windowStart in new[] { start, Math.Max(start, end - info.TensorBytes - slack) }.Distinct())
            {
                if (FindTensor(windowStart, Math.Min(end, windowStart + slack), end) is { } weightsStart)
                {
                    return Weights(weightsStart, end);
                }
            }
        }

        foreach (var (start, end) in scanWhole ?? [])
        {
            if (ScanPages(start, end) is { } weightsStart)
            {
                return Weights(weightsStart, end);
            }
        }

        return null;

        (long Start, long End) Weights(long weightsStart, long end) => (weightsStart, Math.Min(end, weightsStart + info.TensorBytes + (info.TensorCount * 64L)));

        // The first address within PageHead bytes of a page start in [from, to), 32-byte aligned, where one of the tensors
        // begins, or null. A buffer in a mapping of its own begins there (glibc puts a 64-byte-aligned block 64 bytes in).
        long? ScanPages(long from, long to)
        {
            for (var at = from & ~(PageBytes - 1); at < to; at += Block)
            {
                var blockStart = Math.Max(at, from);
                int read;
                try
                {
                    read = RandomAccess.Read(memory, block.AsSpan(0, (int)Math.Min(Block, to - blockStart)), blockStart);
                }
                catch (IOException)
                {
                    return null; // unmapped since: not ours
                }

                for (var page = (blockStart + PageBytes - 1) & ~(PageBytes - 1); page < blockStart + read; page += PageBytes)
                {
                    for (var offset = 0; offset < PageHead; offset += Probe)
                    {
                        var i = (int)(page - blockStart) + offset;
                        if (i + Probe <= read && heads.TryGetValue(BitConverter.ToUInt64(block, i), out var tensor) && Holds(page + offset, tensor, to))
                        {
                            return page + offset;
                        }
                    }
                }
            }

            return null;
        }

        // The first 32-byte-aligned address in [from, to) where one of the tensors begins, or null; the range ends at end.
        long? FindTensor(long from, long to, long end)
        {
            from = (from + Probe - 1) & ~(long)(Probe - 1);
            int read;
            try
            {
                read = RandomAccess.Read(memory, window.AsSpan(0, (int)Math.Clamp(to - from, 0, window.Length)), from);
            }
            catch (IOException)
            {
                return null; // unmapped since: not ours
            }

            for (var offset = 0; offset + Probe <= read; offset += Probe)
            {
                if (signatures.TryGetValue(Convert.ToHexString(window, offset, Probe), out var tensor) && Holds(from + offset, tensor, end))
                {
                    return from + offset;
                }
            }

            return null;
        }

        // Whether the tensor's first 4 KB (all of it when smaller) are at the address, as the file has them, and not in one of the search's own buffers.
        // A tensor larger than twice that must end with its last 4 KB too, so a copy of a first page alone is not the weights.
        // And the range (ending at end) must have room for the weights from there: a hit lies at most slack past the buffer's
        // start, so a shorter range holds a copy of some tensors, not the buffer.
        bool Holds(long address, GgufTensorInfo tensor, long end)
        {
            var length = (int)Math.Min(tensor.ByteSize, Confirm);
            if (end - address < info.TensorBytes - slack || scratch.Overlaps(address, (int)Math.Min(tensor.ByteSize, int.MaxValue)))
            {
                return false;
            }

            try
            {
                return Same(address, info.DataOffset + tensor.Offset, length)
                    && (tensor.ByteSize <= 2 * Confirm || Same(address + tensor.ByteSize - Confirm, info.DataOffset + tensor.Offset + tensor.ByteSize - Confirm, Confirm));
            }
            catch (IOException)
            {
                return false; // unmapped since
            }
        }

        bool Same(long address, long fileOffset, int length) =>
            RandomAccess.Read(file, expected.AsSpan(0, length), fileOffset) == length
            && RandomAccess.Read(memory, actual.AsSpan(0, length), address) == length
            && actual.AsSpan(0, length).SequenceEqual(expected.AsSpan(0, length));
    }

    /// <summary>
    /// Whether <paramref name="probe"/> repeats with a period of 16 bytes or less: zeros, a run of one value (1.0f norm
    /// weights, an f16 constant) or of a few. Such bytes fill memory everywhere (other models' weights among it), so they
    /// cannot tell a buffer apart.
    /// </summary>
    internal static bool Periodic(ReadOnlySpan<byte> probe)
    {
        for (var period = 1; period <= 16; period++)
        {
            if (probe[period..].SequenceEqual(probe[..^period]))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary><see cref="FindWeights"/>' buffers: pinned, so their addresses are known, and wiped when disposed.</summary>
    internal sealed class Scratch : IDisposable
    {
        /// <summary>The bytes that find a candidate.</summary>
        public const int Probe = 32;

        /// <summary>The bytes that confirm one.</summary>
        public const int Confirm = 4096;

        private const int Head = 64 * 1024;
        private readonly byte[][] _buffers;
        private readonly long[] _addresses;

        private Scratch(params int[] lengths)
        {
            _buffers = [.. lengths.Select(n => GC.AllocateArray<byte>(n, pinned: true))];
            _addresses = [.. _buffers.Select(b => (long)Marshal.UnsafeAddrOfPinnedArrayElement(b, 0))];
        }

        /// <summary>The probe, the two confirmation buffers, the window and the page-scan block, in that order.</summary>
        public IReadOnlyList<byte[]> Buffers => _buffers;

        public byte[] this[int index] => _buffers[index];

        /// <summary>The buffers for a search of <paramref name="info"/>'s weights.</summary>
        public static Scratch For(GgufModelInfo info) => new(Probe, Confirm, Confirm, (int)Math.Min(Slack(info) + Probe, int.MaxValue), Block);

        /// <summary>How far into a range a buffer's first tensor may lie: a mapping's header and the tensors' alignment padding.</summary>
        public static long Slack(GgufModelInfo info) => Head + (info.TensorCount * 64L);

        /// <summary>Whether [<paramref name="address"/>, +<paramref name="length"/>) overlaps one of the buffers.</summary>
        public bool Overlaps(long address, int length)
        {
            for (var i = 0; i < _buffers.Length; i++)
            {
                if (address < _addresses[i] + _buffers[i].Length && address + length > _addresses[i])
                {
                    return true;
                }
            }

            return false;
        }

        public void Dispose()
        {
            foreach (var buffer in _buffers)
            {
                Array.Clear(buffer);
            }
        }
    }

    /// <summary>The bytes of <paramref name="ranges"/> the kernel backs with huge pages now (<c>AnonHugePages</c> of the mappings that overlap them, counted within the ranges).</summary>
    public static long HugeBytes(List<(long Start, long End)> ranges)
    {
        if (ranges.Count == 0)
        {
            return 0;
        }

        long total = 0;
        long vmaStart = 0, vmaEnd = 0;
        foreach (var line in File.ReadLines("/proc/self/smaps"))
        {
            if (line.Length > 0 && char.IsAsciiHexDigit(line[0]) && line.IndexOf('-', StringComparison.Ordinal) is > 0 and var dash && line.IndexOf(' ', StringComparison.Ordinal) > dash)
            {
                var space = line.IndexOf(' ', StringComparison.Ordinal);
                vmaStart = long.Parse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                vmaEnd = long.Parse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("AnonHugePages:", StringComparison.Ordinal))
            {
                long overlap = ranges.Sum(r => Math.Max(0, Math.Min(r.End, vmaEnd) - Math.Max(r.Start, vmaStart)));
                if (overlap > 0)
                {
                    var kb = long.Parse(line.AsSpan(14).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                    total += Math.Min(kb * 1024, overlap);
                }
            }
        }

        return total;
    }

    private static string? ReadMode()
    {
        try
        {
            if (!OperatingSystem.IsLinux() || !File.Exists(EnabledPath))
            {
                return null;
            }

            var text = File.ReadAllText(EnabledPath);
            var open = text.IndexOf('[', StringComparison.Ordinal);
            var close = text.IndexOf(']', StringComparison.Ordinal);
            return open >= 0 && close > open ? text[(open + 1)..close] : null;
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    [LibraryImport("libc", EntryPoint = "madvise", SetLastError = true)]
    private static partial int Madvise(nint address, nuint length, int advice);
}
