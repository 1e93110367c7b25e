using System.Buffers.Binary;
using System.Diagnostics;

namespace ModelManager.IntegrationTests;

public sealed class CorruptGgufTests : IDisposable
{
    private readonly string _scratch = TestCache.NewScratchDirectory();

    public static TheoryData<string> VariantNames => new(CorruptGgufCorpus.Variants.Select(v => v.Name));

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    [Fact]
    public void Corpus_HasManyDistinctVariants_AndItsBaseIsValid()
    {
        Assert.True(CorruptGgufCorpus.Variants.Count >= 20, $"only {CorruptGgufCorpus.Variants.Count} variants");
        Assert.Equal(CorruptGgufCorpus.Variants.Count, CorruptGgufCorpus.Variants.Select(v => v.Name).Distinct().Count());

        string path = Path.Combine(_scratch, "valid.gguf");
        File.WriteAllBytes(path, CorruptGgufCorpus.ValidBytes);
        var info = GgufReader.Read(path);
        Assert.Equal("llama", info.Architecture);
        Assert.Equal(CorruptGgufCorpus.Options.ChatTemplate, info.ChatTemplate);
    }

    [Theory]
    [MemberData(nameof(VariantNames))]
    public void Read_CorruptVariant_ThrowsModelFormatExceptionNamingFileAndOffset(string name)
    {
        var variant = CorruptGgufCorpus.Get(name);
        string path = Path.Combine(_scratch, name + ".gguf");
        File.WriteAllBytes(path, variant.Bytes);

        var ex = Assert.Throws<ModelFormatException>(() => GgufReader.Read(path));

        Assert.Null(ex.InnerException);
        Assert.Equal(path, ex.FilePath);
        Assert.NotNull(ex.Offset);
        Assert.InRange(ex.Offset.Value, 0, variant.Bytes.Length);
        if (variant.ExpectedOffset is { } expected)
        {
            Assert.True(expected == ex.Offset, $"expected offset {expected}, got {ex.Offset}: {ex.Message}");
        }

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains($"offset {ex.Offset}", ex.Message, StringComparison.Ordinal);
        Assert.Contains(variant.ExpectedMessage, ex.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Read_MissingFile_ThrowsFileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => GgufReader.Read(Path.Combine(_scratch, "absent.gguf")));
    }

    [Fact]
    public void Read_RandomMutations_OnlyFormatErrorsOrSuccess_AndEachReadIsQuick()
    {
        byte[] valid = CorruptGgufCorpus.ValidBytes;
        var map = CorruptGgufCorpus.Map;
        int header = (int)map.DataOffset;
        var random = new Random(20240601);
        ulong[] interesting = [0, 1, 2, 3, 4, 7, 8, 9, 12, 13, 31, 32, 33, 63, 64, 255, 256, 65535, 65536, int.MaxValue, uint.MaxValue, 1UL << 32, 1UL << 40, long.MaxValue, 1UL << 63, ulong.MaxValue];
        int succeeded = 0, rejected = 0;
        var slowest = TimeSpan.Zero;
        var total = Stopwatch.GetTimestamp();

        for (int i = 0; i < 300; i++)
        {
            byte[] bytes;
            int kind = random.Next(6);
            switch (kind)
            {
                case 0: // flip bits in the header and tables
                    bytes = (byte[])valid.Clone();
                    for (int n = random.Next(1, 5); n > 0; n--)
                    {
                        bytes[random.Next(header)] ^= (byte)(1 << random.Next(8));
                    }

                    break;
                case 1: // an interesting u64 anywhere in the header and tables
                    bytes = (byte[])valid.Clone();
                    BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(random.Next(header - 8)), interesting[random.Next(interesting.Length)]);
                    break;
                case 2: // an interesting u32 at a 4-byte boundary
                    bytes = (byte[])valid.Clone();
                    BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(random.Next((header - 4) / 4) * 4), (uint)interesting[random.Next(interesting.Length)]);
                    break;
                case 3: // truncated in the header and tables
                    bytes = valid.AsSpan(0, random.Next(header + 1)).ToArray();
                    break;
                case 4: // truncated anywhere
                    bytes = valid.AsSpan(0, random.Next(valid.Length + 1)).ToArray();
                    break;
                default: // random bytes anywhere, mostly in tensor data
                    bytes = (byte[])valid.Clone();
                    random.NextBytes(bytes.AsSpan(random.Next(valid.Length - 16), 16));
                    break;
            }

            var started = Stopwatch.GetTimestamp();
            try
            {
                using var stream = new MemoryStream(bytes, writable: false);
                GgufReader.Read(stream, $"fuzz-{i}.gguf");
                succeeded++;
            }
            catch (ModelFormatException ex)
            {
                rejected++;
                Assert.True(ex.InnerException is null, $"mutation {i} (kind {kind}) hit an unexpected error: {ex.InnerException}");
                Assert.Equal($"fuzz-{i}.gguf", ex.FilePath);
                Assert.NotNull(ex.Offset);
                Assert.InRange(ex.Offset.Value, 0, bytes.Length);
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            slowest = elapsed > slowest ? elapsed : slowest;
            SchedulingLag.AssertWithin(elapsed, TimeSpan.FromSeconds(2), started, $"mutation {i} (kind {kind})");
        }

        Assert.True(rejected > 100, $"only {rejected} of 300 mutations were rejected ({succeeded} read)");
        SchedulingLag.AssertWithin(Stopwatch.GetElapsedTime(total), TimeSpan.FromSeconds(20), total, $"300 reads (slowest {slowest.TotalMilliseconds:F1} ms)");
    }
}
