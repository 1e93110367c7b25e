namespace ModelManager;

/// <summary>One entry of a GGUF tensor table, validated against the file.</summary>
/// <param name="Name">The tensor name, e.g. <c>blk.0.attn_q.weight</c>.</param>
/// <param name="Type">The element type.</param>
/// <param name="Dimensions">The dimensions, innermost first (ggml's <c>ne</c>), 1 to 4 of them.</param>
/// <param name="Offset">The offset of the data from the start of the data section.</param>
/// <param name="ByteSize">The size of the data in bytes.</param>
internal sealed record GgufTensorInfo(string Name, GgmlType Type, long[] Dimensions, long Offset, long ByteSize)
{
    /// <summary>The number of elements (product of the dimensions).</summary>
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Dimensions)
            {
                n *= d;
            }

            return n;
        }
    }
}
