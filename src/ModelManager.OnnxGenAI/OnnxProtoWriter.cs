using System.Text;

namespace ModelManager;

/// <summary>Writes ONNX protobufs field by field (onnx.proto's wire format): for the backend's one-node start model and for tests.</summary>
internal static class OnnxProtoWriter
{
    /// <summary>A varint field (wire type 0).</summary>
    public static byte[] Varint(int field, ulong value) => Concat(Raw((ulong)field << 3), Raw(value));

    /// <summary>A length-delimited field (wire type 2) holding <paramref name="payload"/>.</summary>
    public static byte[] Bytes(int field, byte[] payload) => Concat(Raw(((ulong)field << 3) | 2), Raw((ulong)payload.Length), payload);

    /// <summary>A string field, in UTF-8.</summary>
    public static byte[] Text(int field, string text) => Bytes(field, Encoding.UTF8.GetBytes(text));

    /// <summary>An embedded message field made of <paramref name="parts"/> (its fields, in order).</summary>
    public static byte[] Message(int field, params byte[][] parts) => Bytes(field, Concat(parts));

    /// <summary>Fields one after another: a message's body.</summary>
    public static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    private static byte[] Raw(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            var low = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? low : (byte)(low | 0x80));
        }
        while (value != 0);

        return [.. bytes];
    }
}
