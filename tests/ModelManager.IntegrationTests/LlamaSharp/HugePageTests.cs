using ModelManager.IntegrationTests.OpenAI;

namespace ModelManager.IntegrationTests;

/// <summary>
/// <c>huge_pages</c>: a gguf model's weights in 2 MB transparent huge pages (Linux, THP <c>madvise</c>), found and checked
/// against the model's own tensors; greedy output identical with them on and off.
/// </summary>
[Collection(RunAlone.Name)]
public sealed class HugePageTests
{
    [Fact]
    public async Task Auto_PutsTheWeightsInHugePages_Off_DoesNot_AndGreedyOutputIsIdentical()
    {
        var path = TestCache.Model(new SyntheticGgufOptions { TargetBytes = 40_000_000, Seed = 31 });
        var tensorBytes = GgufReader.Read(path).TensorBytes;
        var log = new LogCapture();
        var (services, manager) = GgufManagers.Create($$"""
            { "max_memory_mb": 1024, "models": [
              {{GgufManagers.Gguf("auto", path)}},
              {{GgufManagers.Gguf("off", path, extra: "\"huge_pages\": \"off\"")}},
              {{GgufManagers.Gguf("mapped", path, extra: "\"load_mode\": \"mmap\"")}} ] }
            """, log);
        await using var scope = services;
        var options = new GenerationOptions { MaxTokens = 24, DoSample = false };

        var withHuge = await manager.GetModel("auto").GenerateAsync("Once upon a time", options);
        var huge = await HugePageBytesAsync(manager, "auto");
        await manager.UnloadModelAsync("auto");
        var without = await manager.GetModel("off").GenerateAsync("Once upon a time", options);
        Assert.Equal(0, manager.GetModelStats()["off"].HugePageBytes);
        await manager.UnloadModelAsync("off");
        await manager.LoadModelAsync("mapped");
        Assert.Equal(0, manager.GetModelStats()["mapped"].HugePageBytes); // file pages: not advised

        Assert.Equal(without, withHuge);
        Assert.NotEmpty(withHuge);
        if (HugePages.Mode == "madvise")
        {
            // All but the partial 2 MB pages at the buffer's two ends.
            Assert.True(huge >= tensorBytes - (4L << 20), $"{huge} of {tensorBytes} weight bytes in huge pages; /proc/vmstat: " +
                string.Join(", ", File.ReadLines("/proc/vmstat").Where(l => l.StartsWith("thp_collapse", StringComparison.Ordinal) || l.StartsWith("compact_stall", StringComparison.Ordinal))) +
                "; the backend said: " + string.Join(" | ", log.Entries.Where(e => e.EventId is 2005 or 2006).Select(e => e.Message).DefaultIfEmpty("(neither 2005 nor 2006)")));
            Assert.True(huge <= tensorBytes + (2L << 20), $"{huge} bytes in huge pages: more than the weights");
        }
        else
        {
            Assert.Equal(0, huge); // THP never, always (the kernel's own choice), or not Linux: nothing is advised
        }
    }

    /// <summary>The model's huge-page bytes, which are measured off the load path: polled for up to 5 s (a hang guard).</summary>
    private static async Task<long> HugePageBytesAsync(IModelManager manager, string model)
    {
        for (var i = 0; i < 50 && HugePages.Mode == "madvise"; i++)
        {
            if (manager.GetModelStats()[model].HugePageBytes is > 0 and var bytes)
            {
                return bytes;
            }

            await Task.Delay(100);
        }

        return manager.GetModelStats()[model].HugePageBytes;
    }

    [Fact]
    public void NewRanges_AreWhatAppearedSince_AtLeastTheSizeAsked()
    {
        List<(long, long)> before = [(0x1000, 0x5000), (0x10000, 0x20000)];
        List<(long, long)> after = [(0x1000, 0x8000), (0x10000, 0x20000), (0x30000, 0x31000), (0x40000, 0x50000)];

        Assert.Equal([(0x5000L, 0x8000L), (0x40000L, 0x50000L)], HugePages.NewRanges(before, after, minBytes: 0x2000));
    }

    [Theory]
    [InlineData(0, 0)] // the buffer's own mapping
    [InlineData(1, 0)] // merged with a mapping made just before it: the buffer ends the range
    [InlineData(1, 1)] // merged with neighbours on both sides (addresses freed during the load): found by the page scan
    [InlineData(3, 2)]
    public unsafe void FindWeights_FindsTheBuffer_AtTheStartOfARange_AtItsEnd_OrBetweenNeighbours(int megabytesBefore, int megabytesAfter)
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc/self/mem is Linux's
        }

        var info = GgufReader.Read(TestCache.Model(new SyntheticGgufOptions { TargetBytes = 3_000_000, Seed = 33 }));

        // Neighbours of other bytes before and after the weights; the weights' first tensor 64 bytes into their own part.
        long neighbour = (long)megabytesBefore << 20, length = neighbour + info.TensorBytes + 8192 + ((long)megabytesAfter << 20);
        var memory = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)length, 4096);
        try
        {
            var span = new Span<byte>(memory, (int)length);
            span.Fill(0x5A);
            PlantFirstTensor(info, span[(int)(neighbour + 64)..]);
            var start = (long)memory;

            (long, long)[] range = [(start, start + length)];

            var found = HugePages.FindWeights(range, info, scanWhole: range);

            Assert.NotNull(found);
            Assert.Equal(start + neighbour + 64, found.Value.Start);
            Assert.True(found.Value.End <= start + length);
            if (megabytesAfter > 0)
            {
                Assert.Null(HugePages.FindWeights(range, info)); // between neighbours, only the whole read finds it
            }

            var first = info.Tensors.First(t => t.ByteSize >= 64);
            (long, long)[] tooShort = [(start, start + neighbour + 64 + first.ByteSize + 4096)];
            Assert.Null(HugePages.FindWeights(tooShort, info, scanWhole: tooShort)); // the tensor is there, but no room for the weights: a copy

            (long, long)[] past = [(start + neighbour + 128, start + length)];
            Assert.Null(HugePages.FindWeights(past, info, scanWhole: past)); // a range without the tensors is not the model's

            span[(int)(neighbour + 64 + 40)] ^= 0xFF; // the probe's 32 bytes still match, the tensor no longer does
            Assert.Null(HugePages.FindWeights(range, info, scanWhole: range)); // a stray copy of a tensor's first bytes is not the weights
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(memory);
        }
    }

    [Fact]
    public void Find_FindsTheWeights_WhenTheyTookExactlyTheAddressesOfAMappingThatExistedWhenTheLoadBegan()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc/self/maps is Linux's
        }

        // A mapping freed during the load and mapped again, same size, for the weights: before and after list the same range.
        // Its own model (seed 34): the test above leaves seed 33's tensor bytes in memory the allocator may keep.
        var info = GgufReader.Read(TestCache.Model(new SyntheticGgufOptions { TargetBytes = 3_000_000, Seed = 34 }));

        using var planted = new PlantedMapping(info);
        var placement = new WeightPlacement(info, HugePages.AnonymousMappings());

        var found = placement.Find(HugePages.AnonymousMappings(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, "m");

        Assert.NotNull(found);
        Assert.True(planted.Weights == found.Value.Start, $"found 0x{found.Value.Start:X}, planted 0x{planted.Weights:X}: " + Describe(info, found.Value.Start));
    }

    [Fact]
    public void Find_FindsTheWeights_InTheMiddleOfAMappingWhoseBoundsTheLoadDidNotChange()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc/self/maps is Linux's
        }

        // The buffer took exactly the addresses of another model's, freed during the load, between the same neighbours:
        // the merged mapping's bounds are as they were, and the weights begin 1 MB into it, far from both ends.
        var info = GgufReader.Read(TestCache.Model(new SyntheticGgufOptions { TargetBytes = 3_000_000, Seed = 44 }));
        using var planted = new PlantedMapping(info, lead: 1 << 20);
        var placement = new WeightPlacement(info, HugePages.AnonymousMappings());

        var found = placement.Find(HugePages.AnonymousMappings(), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, "m");

        Assert.NotNull(found);
        Assert.True(planted.Weights == found.Value.Start, $"found 0x{found.Value.Start:X}, planted 0x{planted.Weights:X}: " + Describe(info, found.Value.Start));
    }

    /// <summary>What lies at <paramref name="address"/>: its mapping and which of the model's tensors begins there (a failing test's diagnosis).</summary>
    private static string Describe(GgufModelInfo info, long address)
    {
        var mapping = File.ReadLines("/proc/self/maps").FirstOrDefault(l =>
        {
            var range = l.Split(' ')[0].Split('-');
            return Convert.ToInt64(range[0], 16) <= address && address < Convert.ToInt64(range[1], 16);
        });
        var here = GC.AllocateArray<byte>(4096, pinned: true);
        var there = GC.AllocateArray<byte>(4096, pinned: true);
        using var memory = File.OpenHandle("/proc/self/mem");
        using var file = File.OpenHandle(info.FilePath);
        var read = RandomAccess.Read(memory, here, address);
        var tensors = info.Tensors.Where(t =>
        {
            var n = (int)Math.Min(t.ByteSize, 4096);
            return RandomAccess.Read(file, there.AsSpan(0, n), info.DataOffset + t.Offset) == n && read >= n && here.AsSpan(0, n).SequenceEqual(there.AsSpan(0, n));
        }).Select(t => $"{t.Name} ({t.ByteSize} B)");
        var text = $"mapping {mapping}; tensors beginning there: {string.Join(", ", tensors)}; the 64 bytes before: {Before(memory, address)}";
        here.AsSpan().Clear();
        there.AsSpan().Clear();
        return text;

        static string Before(Microsoft.Win32.SafeHandles.SafeFileHandle memory, long address)
        {
            var bytes = new byte[64];
            return RandomAccess.Read(memory, bytes, address - 64) == 64 ? Convert.ToHexString(bytes) : "(unreadable)";
        }
    }

    [Fact]
    public unsafe void FindWeights_DoesNotTakeMemoryFullOfOnes_ForAModelWhoseNormWeightsAreOnes()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc/self/mem is Linux's
        }

        // Synthetic models' norm weights are all 1.0f, as are other models' buffers in the process (CI found one: the search
        // took another model's weights for these). Bytes that repeat so are no signature of anything.
        var info = GgufReader.Read(TestCache.Model(new SyntheticGgufOptions { TargetBytes = 3_000_000, Seed = 43 }));
        Assert.Contains(info.Tensors, t => t.Name.EndsWith("norm.weight", StringComparison.Ordinal));
        var length = info.TensorBytes + 8192;
        var memory = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc((nuint)length, 4096);
        try
        {
            new Span<float>(memory, (int)(length / 4)).Fill(1f);
            (long, long)[] range = [((long)memory, (long)memory + length)];

            Assert.Null(HugePages.FindWeights(range, info, scanWhole: range));
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(memory);
        }
    }

    [Theory]
    [InlineData("00000000", true)]
    [InlineData("0000803F", true)] // 1.0f
    [InlineData("003C", true)] // 1.0 in f16
    [InlineData("0102030405060708090A0B0C", true)] // 12 bytes again and again
    [InlineData("0102030405060708090A0B0C0D0E0F101112", false)] // 18: longer than any period looked for
    public void Periodic_IsARepeatOf16BytesOrFewer(string unit, bool periodic)
    {
        var bytes = Convert.FromHexString(unit);
        var probe = Enumerable.Range(0, 32).Select(i => bytes[i % bytes.Length]).ToArray();

        Assert.Equal(periodic, HugePages.Periodic(probe));
    }

    [Fact]
    public void FindWeights_NeverTakesItsOwnBuffersForTheWeights_AndWipesThem()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc/self/mem is Linux's
        }

        var info = GgufReader.Read(TestCache.Model(new SyntheticGgufOptions { TargetBytes = 3_000_000, Seed = 41 }));
        using var planted = new PlantedMapping(info);
        var tensor = info.Tensors.First(t => t.ByteSize >= 64);
        var head = planted.Span.Slice(64, (int)Math.Min(tensor.ByteSize, 4096)).ToArray();
        (long, long)[] range = [(planted.Start, planted.End)];

        using (var scratch = HugePages.Scratch.For(info))
        {
            Assert.Equal(planted.Start + 64, HugePages.FindWeightsWith(range, info, range, scratch)?.Start);

            // The search's own buffers now hold the tensor's first bytes (the confirmation read them from the file and
            // from memory), exactly as the weights do: searched, windows and whole pages, they are still not the weights.
            Assert.Contains(scratch.Buffers, b => b.AsSpan().IndexOf(head) >= 0);
            var own = scratch.Buffers.Select(b => (Address(b), Address(b) + b.Length)).ToArray();
            planted.Span.Clear();
            Assert.Null(HugePages.FindWeightsWith(own, info, own, scratch));
        }

        // The buffers are wiped when the search is done with them (FindWeights disposes its own), so that no later
        // search finds a stale copy of the weights in freed memory.
        planted.Plant();
        var kept = HugePages.Scratch.For(info);
        using (kept)
        {
            Assert.NotNull(HugePages.FindWeightsWith(range, info, null, kept));
            Assert.Contains(kept.Buffers, b => b.AsSpan().IndexOf(head) >= 0);
        }

        Assert.All(kept.Buffers, b => Assert.Equal(-1, b.AsSpan().IndexOfAnyExcept((byte)0)));

        static long Address(byte[] pinned) => (long)System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0);
    }

    [Fact]
    public void WritingAndReadingAModel_LeavesNoCopyOfItsTensorsInTheProcess()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // /proc/self/mem is Linux's
        }

        // The huge-page search tells the loaded weights by their bytes, so any other copy of whole tensors in the process
        // can mislead it. The synthetic writer (its FileStream buffer and chunk) and the GGUF reader (its read-ahead past
        // the header) each left some in freed memory; every model a test or the sample synthesizes goes through both.
        var directory = TestCache.NewScratchDirectory();
        try
        {
            var path = SyntheticGgufWriter.Write(Path.Combine(directory, "m.gguf"), new SyntheticGgufOptions { TargetBytes = 3_000_000, Seed = 42 });
            var info = GgufReader.Read(path);

            // The first, a middle and the last tensor, none beginning with repeated bytes: where the writer's and the reader's buffers end.
            var tensors = info.Tensors.Where(t => t.ByteSize >= Needle).ToList();
            var needles = GC.AllocateArray<byte>(3 * Needle, pinned: true);
            using (var file = File.OpenHandle(path))
            {
                var picked = new[] { tensors[0], tensors[tensors.Count / 2], tensors[^1] };
                for (var i = 0; i < picked.Length; i++)
                {
                    Assert.Equal(Needle, RandomAccess.Read(file, needles.AsSpan(i * Needle, Needle), info.DataOffset + picked[i].Offset));
                    Assert.False(HugePages.Periodic(needles.AsSpan(i * Needle, Needle)), $"{picked[i].Name} begins with repeated bytes, found everywhere");
                }
            }

            var copies = CopiesOf(needles);
            Assert.True(copies.Count == 0, $"{copies.Count} copies of the model's tensors in the process's memory: " + string.Join(", ", copies.Take(5)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    private const int Needle = 64;

    /// <summary>Where the process's anonymous memory holds one of the <see cref="Needle"/>-byte needles packed in <paramref name="needles"/> (pinned), outside the needles and the scan's own buffer.</summary>
    private static List<string> CopiesOf(byte[] needles)
    {
        const int Chunk = 4 << 20;
        var buffer = GC.AllocateArray<byte>(Chunk, pinned: true);
        (long Start, long Length)[] own = [(Address(needles), needles.Length), (Address(buffer), buffer.Length)];
        var copies = new List<string>();
        using var memory = File.OpenHandle("/proc/self/mem");
        foreach (var (start, end) in HugePages.AnonymousMappings())
        {
            // Chunks overlap by a needle, so that one across a chunk boundary is seen.
            for (var at = start; at < end; at += Chunk - Needle)
            {
                int read;
                try
                {
                    read = RandomAccess.Read(memory, buffer.AsSpan(0, (int)Math.Min(Chunk, end - at)), at);
                }
                catch (IOException)
                {
                    break; // unmapped since
                }

                for (var n = 0; n < needles.Length; n += Needle)
                {
                    var span = buffer.AsSpan(0, read);
                    for (int offset = 0, k; (k = span[offset..].IndexOf(needles.AsSpan(n, Needle))) >= 0; offset += k + 1)
                    {
                        var address = at + offset + k;
                        if (!own.Any(o => address >= o.Start && address < o.Start + o.Length))
                        {
                            copies.Add($"needle {n / Needle} at 0x{address:X} (+{address - start} in the {(end - start) >> 10} KB mapping at 0x{start:X})");
                        }
                    }
                }
            }
        }

        return copies;

        static long Address(byte[] pinned) => (long)System.Runtime.InteropServices.Marshal.UnsafeAddrOfPinnedArrayElement(pinned, 0);
    }

    /// <summary>
    /// An anonymous mapping of the model's tensor bytes plus 8 KB, and <c>lead</c> bytes on each side, filled with 0x5A, with
    /// the model's first tensor planted 64 bytes past the lead (where glibc puts a buffer of its own mapping).
    /// </summary>
    private sealed unsafe class PlantedMapping : IDisposable
    {
        private readonly GgufModelInfo _info;
        private readonly nuint _length;

        public PlantedMapping(GgufModelInfo info, long lead = 0)
        {
            _info = info;
            Lead = lead;
            _length = (nuint)(info.TensorBytes + 8192 + (2 * lead));
            Start = (long)Mmap(0, _length, 3 /* PROT_READ | PROT_WRITE */, 0x22 /* MAP_PRIVATE | MAP_ANONYMOUS */, -1, 0);
            Assert.NotEqual(-1, Start);
            Plant();
        }

        public long Lead { get; }

        public long Start { get; }

        public long End => Start + (long)_length;

        /// <summary>Where the planted tensor begins.</summary>
        public long Weights => Start + Lead + 64;

        public Span<byte> Span => new((void*)Start, (int)_length);

        /// <summary>Fills the mapping with 0x5A and plants the first tensor 64 bytes past the lead.</summary>
        public void Plant()
        {
            Span.Fill(0x5A);
            PlantFirstTensor(_info, Span[(int)(Lead + 64)..]);
        }

        public void Dispose() => _ = Munmap((nint)Start, _length);
    }

    /// <summary>
    /// Writes into <paramref name="target"/> the model's first tensor of 64 bytes or more as the file has it (all of it):
    /// what FindWeights looks for. Read straight into the target, so no other copy of the bytes is left in memory to be found.
    /// </summary>
    private static void PlantFirstTensor(GgufModelInfo info, Span<byte> target)
    {
        var tensor = info.Tensors.First(t => t.ByteSize >= 64);
        using var file = File.OpenHandle(info.FilePath);
        var length = (int)tensor.ByteSize;
        Assert.Equal(length, RandomAccess.Read(file, target[..length], info.DataOffset + tensor.Offset));
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static extern nint Mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static extern int Munmap(nint address, nuint length);

    [Fact]
    public void InvalidSetting_IsAValidationErrorNamingTheKey()
    {
        var error = Assert.Throws<ModelConfigurationException>(() => GgufManagers.Create($$"""
            { "models": [ {{GgufManagers.Gguf("m", TestCache.Model(new SyntheticGgufOptions { TargetBytes = 2_000_000, Seed = 32 }), extra: "\"huge_pages\": \"yes\"")}} ] }
            """));
        Assert.Contains("models[0].huge_pages: 'yes' is not auto or off", error.Message, StringComparison.Ordinal);
    }
}
