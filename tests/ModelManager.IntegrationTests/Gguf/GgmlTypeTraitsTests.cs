using System.Diagnostics;
using System.Runtime.InteropServices;
using LLama.Native;

namespace ModelManager.IntegrationTests;

public sealed class GgmlTypeTraitsTests
{
    [Fact]
    public unsafe void Table_MatchesTheShippedGgmlLibrary()
    {
        NativeApi.llama_max_devices(); // loads the native libraries
        string library = Process.GetCurrentProcess().Modules.Cast<ProcessModule>()
            .Select(m => m.FileName)
            .First(f => Path.GetFileName(f).Contains("ggml-base", StringComparison.Ordinal));
        nint handle = NativeLibrary.Load(library);
        var blockSize = (delegate* unmanaged<int, long>)NativeLibrary.GetExport(handle, "ggml_blck_size");
        var typeSize = (delegate* unmanaged<int, nuint>)NativeLibrary.GetExport(handle, "ggml_type_size");

        // GGML_TYPE_COUNT is 41 in the llama.cpp that LLamaSharp 0.30.0 ships; asking beyond it reads out of bounds.
        for (int type = 0; type < GgmlTypeTraits.Count; type++)
        {
            bool known = GgmlTypeTraits.TryGet((uint)type, out var parsed, out int ourBlock, out int ourSize);
            long nativeBlock = blockSize(type);
            nuint nativeSize = typeSize(type);
            Assert.True(known == (nativeBlock != 0), $"type {type}: ours {(known ? "known" : "unknown")}, ggml block size {nativeBlock}");
            if (known)
            {
                Assert.Equal(type, (int)parsed);
                Assert.True(ourBlock == nativeBlock && ourSize == (int)nativeSize, $"{parsed}: ours {ourBlock}/{ourSize}, ggml {nativeBlock}/{nativeSize}");
            }
        }

        Assert.False(GgmlTypeTraits.TryGet((uint)GgmlTypeTraits.Count, out _, out _, out _));
    }

    [Fact]
    public void ByteSize_RejectsPartialBlocksAndOverflow()
    {
        Assert.Equal(18, GgmlTypeTraits.ByteSize(GgmlType.Q4_0, 32));
        Assert.Null(GgmlTypeTraits.ByteSize(GgmlType.Q4_0, 33));
        Assert.Null(GgmlTypeTraits.ByteSize(GgmlType.F64, long.MaxValue));
        Assert.Equal(8L << 40, GgmlTypeTraits.ByteSize(GgmlType.F64, 1L << 40));
    }
}
