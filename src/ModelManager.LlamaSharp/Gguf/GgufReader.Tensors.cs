namespace ModelManager;

/// <content>The tensor table and the placement of tensor data.</content>
internal static partial class GgufReader
{
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static List<TensorEntry> ReadTensorTable(GgufByteReader r, long count)
    {
        var tensors = new List<TensorEntry>((int)Math.Min(count, 4096));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (long i = 0; i < count; i++)
        {
            long entryOffset = r.Position;
            string name = r.ReadString($"name of tensor #{i}", MaxTensorNameLength);
            if (!names.Add(name))
            {
                throw r.Error($"duplicate tensor name '{name}'", entryOffset);
            }

            long dimsOffset = r.Position;
            uint nDims = r.ReadUInt32($"dimension count of tensor '{name}'");
            if (nDims is 0 or > MaxDimensions)
            {
                throw r.Error($"tensor '{name}' has {nDims} dimensions; 1 to {MaxDimensions} are allowed", dimsOffset);
            }

            var dims = new long[nDims];
            long elements = 1;
            bool overflow = false;
            for (int d = 0; d < nDims; d++)
            {
                long dimOffset = r.Position;
                ulong dim = r.ReadUInt64($"dimension {d} of tensor '{name}'");
                if (dim > long.MaxValue)
                {
                    throw r.Error($"tensor '{name}' dimension {d} is {dim}, not representable", dimOffset);
                }

                dims[d] = (long)dim;
                if (!overflow && dim != 0 && elements > long.MaxValue / (long)dim)
                {
                    overflow = true;
                }

                elements = overflow ? elements : elements * (long)dim;
            }

            if (overflow)
            {
                throw r.Error($"tensor '{name}' has dimensions [{string.Join(", ", dims)}] whose element count overflows", dimsOffset);
            }

            long typeOffset = r.Position;
            uint rawType = r.ReadUInt32($"type of tensor '{name}'");
            if (!GgmlTypeTraits.TryGet(rawType, out var type, out int blockSize, out _))
            {
                throw r.Error($"tensor '{name}' has unknown ggml type {rawType}", typeOffset);
            }

            if (dims[0] % blockSize != 0)
            {
                throw r.Error($"tensor '{name}' of type {type} has {dims[0]} elements per row, not a multiple of the block size {blockSize}", dimsOffset);
            }

            long byteSize = GgmlTypeTraits.ByteSize(type, elements)
                ?? throw r.Error($"tensor '{name}' of type {type} with dimensions [{string.Join(", ", dims)}] has a byte size that overflows", dimsOffset);

            long offsetOffset = r.Position;
            ulong offset = r.ReadUInt64($"data offset of tensor '{name}'");
            if (offset > long.MaxValue)
            {
                throw r.Error($"tensor '{name}' has data offset {offset}, beyond any file", offsetOffset);
            }

            tensors.Add(new TensorEntry(new GgufTensorInfo(name, type, dims, (long)offset, byteSize), offsetOffset));
        }

        return tensors;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static (long DataOffset, long TensorBytes) ValidateTensorData(GgufByteReader r, List<TensorEntry> tensors, int alignment)
    {
        long tableEnd = r.Position;
        long dataOffset = tensors.Count == 0 ? tableEnd : AlignUp(tableEnd, alignment);
        if (dataOffset > r.Length)
        {
            throw r.Error($"the tensor data section would start at {dataOffset}, beyond the end of the file ({r.Length} bytes; truncated file)", tableEnd);
        }

        long dataLength = r.Length - dataOffset;
        long expected = 0;
        long total = 0;
        foreach (var (tensor, fieldOffset) in tensors)
        {
            if (tensor.Offset > dataLength || tensor.ByteSize > dataLength - tensor.Offset)
            {
                throw r.Error(
                    $"tensor '{tensor.Name}' data [{dataOffset + (decimal)tensor.Offset}, {dataOffset + (decimal)tensor.Offset + tensor.ByteSize}) lies beyond the end of the file ({r.Length} bytes; truncated file or bad offset)",
                    fieldOffset);
            }

            if (tensor.Offset % alignment != 0)
            {
                throw r.Error($"tensor '{tensor.Name}' data offset {tensor.Offset} is not a multiple of the alignment {alignment}", fieldOffset);
            }

            if (tensor.Offset != expected)
            {
                string problem = tensor.Offset < expected ? "overlaps the previous tensor's data" : "leaves a gap after the previous tensor";
                throw r.Error($"tensor '{tensor.Name}' data offset {tensor.Offset} {problem} (expected {expected}; tensors must be stored in table order)", fieldOffset);
            }

            // Both terms are bounded by the data length here, so neither sum can overflow.
            expected += AlignUp(tensor.ByteSize, alignment);
            total += tensor.ByteSize;
        }

        return (dataOffset, total);
    }
}
