namespace ModelManager;

/// <summary>Block geometry of each <see cref="GgmlType"/>: elements per block and bytes per block.</summary>
/// <remarks>
/// Mirrors <c>type_traits</c> in ggml.c of the llama.cpp that LLamaSharp 0.30.0 ships (commit 815a2a59,
/// whose last type is NVFP4 = 40). The byte sizes are the <c>sizeof(block_*)</c> of ggml-common.h.
/// </remarks>
internal static class GgmlTypeTraits
{
    // Indexed by the numeric type; (0, 0) marks a number that is not a valid type.
    private static readonly (int BlockSize, int TypeSize)[] Table = Build();

    /// <summary>One past the largest type number this table knows.</summary>
    public static int Count => Table.Length;

    /// <summary>Looks up the block geometry of a raw type number read from a file.</summary>
    public static bool TryGet(uint rawType, out GgmlType type, out int blockSize, out int typeSize)
    {
        if (rawType < (uint)Table.Length && Table[rawType].BlockSize != 0)
        {
            type = (GgmlType)rawType;
            (blockSize, typeSize) = Table[rawType];
            return true;
        }

        type = default;
        blockSize = 0;
        typeSize = 0;
        return false;
    }

    /// <summary>Bytes of a tensor of <paramref name="elements"/> elements, or null when the count is not a whole number of blocks or overflows.</summary>
    public static long? ByteSize(GgmlType type, long elements)
    {
        if (!TryGet((uint)type, out _, out int blockSize, out int typeSize) || elements < 0 || elements % blockSize != 0)
        {
            return null;
        }

        long blocks = elements / blockSize;
        return blocks > long.MaxValue / typeSize ? null : blocks * typeSize;
    }

    private static (int, int)[] Build()
    {
        const int QK_K = 256;
        var t = new (int, int)[41];
        t[(int)GgmlType.F32] = (1, 4);
        t[(int)GgmlType.F16] = (1, 2);
        t[(int)GgmlType.Q4_0] = (32, 2 + 16);
        t[(int)GgmlType.Q4_1] = (32, 4 + 16);
        t[(int)GgmlType.Q5_0] = (32, 2 + 4 + 16);
        t[(int)GgmlType.Q5_1] = (32, 4 + 4 + 16);
        t[(int)GgmlType.Q8_0] = (32, 2 + 32);
        t[(int)GgmlType.Q8_1] = (32, 4 + 32);
        t[(int)GgmlType.Q2_K] = (QK_K, (QK_K / 16) + (QK_K / 4) + 4);
        t[(int)GgmlType.Q3_K] = (QK_K, (QK_K / 8) + (QK_K / 4) + 12 + 2);
        t[(int)GgmlType.Q4_K] = (QK_K, 4 + 12 + (QK_K / 2));
        t[(int)GgmlType.Q5_K] = (QK_K, 4 + 12 + (QK_K / 8) + (QK_K / 2));
        t[(int)GgmlType.Q6_K] = (QK_K, (QK_K / 2) + (QK_K / 4) + (QK_K / 16) + 2);
        t[(int)GgmlType.Q8_K] = (QK_K, 4 + QK_K + (QK_K / 16 * 2));
        t[(int)GgmlType.IQ2_XXS] = (QK_K, 2 + (QK_K / 8 * 2));
        t[(int)GgmlType.IQ2_XS] = (QK_K, 2 + (QK_K / 8 * 2) + (QK_K / 32));
        t[(int)GgmlType.IQ3_XXS] = (QK_K, 2 + (3 * QK_K / 8));
        t[(int)GgmlType.IQ1_S] = (QK_K, 2 + (QK_K / 8) + (QK_K / 32 * 2));
        t[(int)GgmlType.IQ4_NL] = (32, 2 + 16);
        t[(int)GgmlType.IQ3_S] = (QK_K, 2 + (QK_K / 4) + (QK_K / 32) + (QK_K / 8) + (QK_K / 64));
        t[(int)GgmlType.IQ2_S] = (QK_K, 2 + (QK_K / 4) + (QK_K / 32) + (QK_K / 32));
        t[(int)GgmlType.IQ4_XS] = (QK_K, 2 + 2 + (QK_K / 64) + (QK_K / 2));
        t[(int)GgmlType.I8] = (1, 1);
        t[(int)GgmlType.I16] = (1, 2);
        t[(int)GgmlType.I32] = (1, 4);
        t[(int)GgmlType.I64] = (1, 8);
        t[(int)GgmlType.F64] = (1, 8);
        t[(int)GgmlType.IQ1_M] = (QK_K, (QK_K / 8) + (QK_K / 16) + (QK_K / 32));
        t[(int)GgmlType.BF16] = (1, 2);
        t[(int)GgmlType.TQ1_0] = (QK_K, ((QK_K - (4 * QK_K / 64)) / 5) + (QK_K / 64) + 2);
        t[(int)GgmlType.TQ2_0] = (QK_K, (QK_K / 4) + 2);
        t[(int)GgmlType.MXFP4] = (32, 1 + 16);
        t[(int)GgmlType.NVFP4] = (64, 4 + 32);
        return t;
    }
}
