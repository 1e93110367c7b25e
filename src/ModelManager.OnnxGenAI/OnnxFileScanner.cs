namespace ModelManager;

/// <summary>Walks an ONNX file's protobuf framing, best effort, for external data files and the KV-cache element type.</summary>
/// <remarks>
/// Stateless and thread-safe. It never judges the file: on anything unexpected it stops and returns what it found, so a
/// truncated or corrupt file still reaches ONNX Runtime, whose own message is the better one. Tensor payloads are skipped
/// with seeks, never read, so a multi-gigabyte file costs a few milliseconds.
/// </remarks>
internal static class OnnxFileScanner
{
    private const int MaxDepth = 16;

    // onnx.proto field numbers.
    private const int ModelGraph = 7;
    private const int GraphNode = 1, GraphInitializer = 5, GraphInput = 11, GraphSparseInitializer = 15;
    private const int NodeAttribute = 5;
    private const int AttributeTensor = 5, AttributeGraph = 6, AttributeTensors = 10, AttributeGraphs = 11, AttributeSparseTensor = 22, AttributeSparseTensors = 23;
    private const int SparseValues = 1, SparseIndices = 2;
    private const int TensorExternalData = 13, TensorDataLocation = 14;
    private const int EntryKey = 1, EntryValue = 2;
    private const int ValueInfoName = 1, ValueInfoType = 2, TypeTensor = 1, TensorTypeElemType = 1;

    /// <summary>Scans <paramref name="path"/>; <paramref name="pastInputPrefixes"/> name the KV-cache inputs (e.g. <c>past_key_values.</c>).</summary>
    public static OnnxFileScan Scan(string path, IReadOnlyList<string> pastInputPrefixes)
    {
        var result = new Collector(pastInputPrefixes);
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.RandomAccess);
            var reader = new Reader(stream);
            while (reader.TryReadTag(stream.Length, out var field, out var wire))
            {
                if (field == ModelGraph && wire == 2)
                {
                    ReadGraph(reader, reader.ReadLengthEnd(), result, 0);
                }
                else
                {
                    reader.Skip(wire);
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or EndOfStreamException or IOException or UnauthorizedAccessException)
        {
            // Best effort: ONNX Runtime will report what is wrong with the file.
        }

        return new OnnxFileScan(result.Locations.ToArray(), result.KvElementBytes);
    }

    private static void ReadGraph(Reader r, long end, Collector c, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new InvalidDataException("graphs nest too deeply");
        }

        while (r.TryReadTag(end, out var field, out var wire))
        {
            switch (field, wire)
            {
                case (GraphInitializer, 2):
                    ReadTensor(r, r.ReadLengthEnd(), c);
                    break;
                case (GraphSparseInitializer, 2):
                    ReadSparseTensor(r, r.ReadLengthEnd(), c);
                    break;
                case (GraphNode, 2):
                    ReadNode(r, r.ReadLengthEnd(), c, depth);
                    break;
                case (GraphInput, 2):
                    ReadInput(r, r.ReadLengthEnd(), c);
                    break;
                default:
                    r.Skip(wire);
                    break;
            }
        }

        r.Seek(end);
    }

    private static void ReadNode(Reader r, long end, Collector c, int depth)
    {
        while (r.TryReadTag(end, out var field, out var wire))
        {
            if (field == NodeAttribute && wire == 2)
            {
                var attributeEnd = r.ReadLengthEnd();
                while (r.TryReadTag(attributeEnd, out var f, out var w))
                {
                    switch (f, w)
                    {
                        case (AttributeTensor or AttributeTensors, 2):
                            ReadTensor(r, r.ReadLengthEnd(), c);
                            break;
                        case (AttributeSparseTensor or AttributeSparseTensors, 2):
                            ReadSparseTensor(r, r.ReadLengthEnd(), c);
                            break;
                        case (AttributeGraph or AttributeGraphs, 2):
                            ReadGraph(r, r.ReadLengthEnd(), c, depth + 1);
                            break;
                        default:
                            r.Skip(w);
                            break;
                    }
                }

                r.Seek(attributeEnd);
            }
            else
            {
                r.Skip(wire);
            }
        }

        r.Seek(end);
    }

    private static void ReadSparseTensor(Reader r, long end, Collector c)
    {
        while (r.TryReadTag(end, out var field, out var wire))
        {
            if (field is SparseValues or SparseIndices && wire == 2)
            {
                ReadTensor(r, r.ReadLengthEnd(), c);
            }
            else
            {
                r.Skip(wire);
            }
        }

        r.Seek(end);
    }

    private static void ReadTensor(Reader r, long end, Collector c)
    {
        string? location = null;
        var external = false;
        while (r.TryReadTag(end, out var field, out var wire))
        {
            if (field == TensorExternalData && wire == 2)
            {
                var entryEnd = r.ReadLengthEnd();
                string? key = null, value = null;
                while (r.TryReadTag(entryEnd, out var f, out var w))
                {
                    if (f is EntryKey or EntryValue && w == 2)
                    {
                        var text = r.ReadString(entryEnd);
                        if (f == EntryKey)
                        {
                            key = text;
                        }
                        else
                        {
                            value = text;
                        }
                    }
                    else
                    {
                        r.Skip(w);
                    }
                }

                r.Seek(entryEnd);
                if (key == "location")
                {
                    location = value;
                }
            }
            else if (field == TensorDataLocation && wire == 0)
            {
                external = r.ReadVarint() == 1;
            }
            else
            {
                r.Skip(wire);
            }
        }

        r.Seek(end);
        if (external && !string.IsNullOrEmpty(location) && !c.Locations.Contains(location))
        {
            c.Locations.Add(location);
        }
    }

    private static void ReadInput(Reader r, long end, Collector c)
    {
        string? name = null;
        var elemType = 0;
        while (r.TryReadTag(end, out var field, out var wire))
        {
            if (field == ValueInfoName && wire == 2)
            {
                name = r.ReadString(end);
            }
            else if (field == ValueInfoType && wire == 2)
            {
                var typeEnd = r.ReadLengthEnd();
                while (r.TryReadTag(typeEnd, out var f, out var w))
                {
                    if (f == TypeTensor && w == 2)
                    {
                        var tensorEnd = r.ReadLengthEnd();
                        while (r.TryReadTag(tensorEnd, out var tf, out var tw))
                        {
                            if (tf == TensorTypeElemType && tw == 0)
                            {
                                elemType = (int)r.ReadVarint();
                            }
                            else
                            {
                                r.Skip(tw);
                            }
                        }

                        r.Seek(tensorEnd);
                    }
                    else
                    {
                        r.Skip(w);
                    }
                }

                r.Seek(typeEnd);
            }
            else
            {
                r.Skip(wire);
            }
        }

        r.Seek(end);
        if (c.KvElementBytes == 0 && name is not null && c.PastPrefixes.Any(p => name.StartsWith(p, StringComparison.Ordinal)))
        {
            c.KvElementBytes = ElementBytes(elemType);
        }
    }

    // onnx.TensorProto.DataType: FLOAT 1, UINT8 2, INT8 3, UINT16 4, INT16 5, INT32 6, INT64 7, FLOAT16 10, DOUBLE 11, BFLOAT16 16, FLOAT8* 17-20.
    private static int ElementBytes(int elemType) => elemType switch
    {
        1 or 6 or 12 => 4,
        2 or 3 or 9 or 17 or 18 or 19 or 20 => 1,
        4 or 5 or 10 or 16 => 2,
        7 or 11 or 13 => 8,
        _ => 0,
    };

    private sealed class Collector(IReadOnlyList<string> pastPrefixes)
    {
        public IReadOnlyList<string> PastPrefixes { get; } = pastPrefixes;

        public List<string> Locations { get; } = [];

        public int KvElementBytes { get; set; }
    }

    /// <summary>A minimal protobuf wire reader over a seekable stream; throws <see cref="InvalidDataException"/> on bad framing.</summary>
    private sealed class Reader(Stream stream)
    {
        private const int MaxString = 4096;

        public bool TryReadTag(long end, out int field, out int wire)
        {
            field = 0;
            wire = 0;
            if (stream.Position >= end)
            {
                return false;
            }

            var tag = ReadVarint();
            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            if (field == 0 || wire is 3 or 4 or 6 or 7)
            {
                throw new InvalidDataException("not a protobuf field");
            }

            return true;
        }

        public ulong ReadVarint()
        {
            ulong value = 0;
            for (var shift = 0; shift < 64; shift += 7)
            {
                var b = stream.ReadByte();
                if (b < 0)
                {
                    throw new EndOfStreamException();
                }

                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }

            throw new InvalidDataException("varint too long");
        }

        /// <summary>Reads a length prefix and returns where the field ends.</summary>
        public long ReadLengthEnd()
        {
            var length = ReadVarint();
            var end = stream.Position + (long)Math.Min(length, long.MaxValue / 2);
            if (length > long.MaxValue / 2 || end > stream.Length)
            {
                throw new InvalidDataException("field runs past the end of the file");
            }

            return end;
        }

        public string? ReadString(long limit)
        {
            var end = ReadLengthEnd();
            if (end > limit)
            {
                throw new InvalidDataException("field runs past its parent");
            }

            var length = (int)Math.Min(end - stream.Position, int.MaxValue);
            if (length > MaxString)
            {
                Seek(end);
                return null;
            }

            var buffer = new byte[length];
            stream.ReadExactly(buffer);
            return System.Text.Encoding.UTF8.GetString(buffer);
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0:
                    ReadVarint();
                    break;
                case 1:
                    Seek(stream.Position + 8);
                    break;
                case 2:
                    Seek(ReadLengthEnd());
                    break;
                case 5:
                    Seek(stream.Position + 4);
                    break;
                default:
                    throw new InvalidDataException("unsupported wire type");
            }
        }

        public void Seek(long position)
        {
            if (position > stream.Length)
            {
                throw new EndOfStreamException();
            }

            stream.Position = position;
        }
    }
}
