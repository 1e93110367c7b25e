using System.Buffers.Binary;
using System.Text;

namespace ModelManager.IntegrationTests;

/// <summary>Where each field of a valid GGUF file lives, found by a walker independent of GgufReader.</summary>
internal sealed class GgufFieldMap
{
    private GgufFieldMap(List<KeyValueField> keyValues, List<TensorField> tensors, long tableEnd, long dataOffset)
    {
        KeyValues = keyValues;
        Tensors = tensors;
        TableEnd = tableEnd;
        DataOffset = dataOffset;
    }

    public IReadOnlyList<KeyValueField> KeyValues { get; }

    public IReadOnlyList<TensorField> Tensors { get; }

    /// <summary>The offset just past the tensor table (before alignment padding).</summary>
    public long TableEnd { get; }

    /// <summary>The offset of the tensor data section.</summary>
    public long DataOffset { get; }

    public KeyValueField Key(string key) => KeyValues.Single(k => k.Key == key);

    public TensorField Tensor(string name) => Tensors.Single(t => t.Name == name);

    public static GgufFieldMap Parse(byte[] file)
    {
        int pos = 16;
        ulong kvCount = U64(file, ref pos);
        var kvs = new List<KeyValueField>();
        int alignment = 32;
        for (ulong i = 0; i < kvCount; i++)
        {
            int keyOffset = pos;
            string key = Str(file, ref pos);
            int typeOffset = pos;
            uint type = U32(file, ref pos);
            int valueOffset = pos;
            int elementTypeOffset = -1, countOffset = -1;
            if (type == 9)
            {
                elementTypeOffset = pos;
                uint elementType = U32(file, ref pos);
                countOffset = pos;
                ulong count = U64(file, ref pos);
                for (ulong j = 0; j < count; j++)
                {
                    SkipValue(file, ref pos, elementType);
                }
            }
            else
            {
                if (key == "general.alignment")
                {
                    alignment = (int)BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(pos));
                }

                SkipValue(file, ref pos, type);
            }

            kvs.Add(new KeyValueField(key, keyOffset, typeOffset, valueOffset, elementTypeOffset, countOffset));
        }

        ulong tensorCount = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(8));
        var tensors = new List<TensorField>();
        for (ulong i = 0; i < tensorCount; i++)
        {
            int entryOffset = pos;
            string name = Str(file, ref pos);
            int nDimsOffset = pos;
            uint nDims = U32(file, ref pos);
            var dims = new long[nDims];
            for (int d = 0; d < nDims; d++)
            {
                dims[d] = (long)U64(file, ref pos);
            }

            int typeOffset = pos;
            uint type = U32(file, ref pos);
            int offsetFieldOffset = pos;
            long offset = (long)U64(file, ref pos);
            tensors.Add(new TensorField(name, entryOffset, nDimsOffset, typeOffset, offsetFieldOffset, offset, dims, type));
        }

        long dataOffset = (pos + alignment - 1) / alignment * alignment;
        return new GgufFieldMap(kvs, tensors, pos, dataOffset);
    }

    private static void SkipValue(byte[] file, ref int pos, uint type)
    {
        switch (type)
        {
            case 0 or 1 or 7: pos += 1; break;
            case 2 or 3: pos += 2; break;
            case 4 or 5 or 6: pos += 4; break;
            case 10 or 11 or 12: pos += 8; break;
            case 8: Str(file, ref pos); break;
            case 9:
                uint elementType = U32(file, ref pos);
                ulong count = U64(file, ref pos);
                for (ulong j = 0; j < count; j++)
                {
                    SkipValue(file, ref pos, elementType);
                }

                break;
            default: throw new InvalidDataException($"unknown type {type}");
        }
    }

    private static uint U32(byte[] file, ref int pos)
    {
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(file.AsSpan(pos));
        pos += 4;
        return v;
    }

    private static ulong U64(byte[] file, ref int pos)
    {
        ulong v = BinaryPrimitives.ReadUInt64LittleEndian(file.AsSpan(pos));
        pos += 8;
        return v;
    }

    private static string Str(byte[] file, ref int pos)
    {
        int length = (int)U64(file, ref pos);
        string s = Encoding.UTF8.GetString(file, pos, length);
        pos += length;
        return s;
    }

    /// <summary>One metadata pair: offsets of its key, type tag and value (for arrays also element type and count).</summary>
    internal sealed record KeyValueField(string Key, int KeyOffset, int TypeOffset, int ValueOffset, int ElementTypeOffset, int CountOffset);

    /// <summary>One tensor-table entry: offsets of its fields and their values.</summary>
    internal sealed record TensorField(string Name, int EntryOffset, int NDimsOffset, int TypeOffset, int OffsetFieldOffset, long Offset, long[] Dims, uint Type)
    {
        public int DimOffset(int d) => NDimsOffset + 4 + (8 * d);
    }
}
