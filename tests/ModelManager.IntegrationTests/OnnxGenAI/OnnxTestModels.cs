using static ModelManager.OnnxProtoWriter;

namespace ModelManager.IntegrationTests;

/// <summary>Tiny ONNX protobufs written with the backend's <see cref="OnnxProtoWriter"/>: enough framing to exercise the managed scanner (external data, KV input types).</summary>
internal static class OnnxTestModels
{
    /// <summary>onnx.TensorProto.DataType FLOAT.</summary>
    public const int Float = 1;

    /// <summary>onnx.TensorProto.DataType FLOAT16.</summary>
    public const int Float16 = 10;

    /// <summary>A ModelProto whose graph has one initializer stored in <paramref name="location"/> and a <c>past_0</c> input of <paramref name="pastElemType"/>.</summary>
    public static byte[] ModelWithExternalData(string location, int pastElemType) => Concat(
        Varint(1, 8), // ir_version
        Message(7, // graph
            Message(1, Text(4, "Constant"), Message(5, Text(1, "value"), Message(5, Varint(2, Float), Text(8, "c"), Bytes(9, new byte[16])))), // node with an inline tensor
            Message(5, Varint(1, 4), Varint(2, Float), Text(8, "w"), Message(13, Text(1, "location"), Text(2, location)), Message(13, Text(1, "offset"), Text(2, "0")), Varint(14, 1)),
            Message(11, Text(1, "input_ids"), Message(2, Message(1, Varint(1, 7)))),
            Message(11, Text(1, "past_0"), Message(2, Message(1, Varint(1, (ulong)pastElemType))))));
}
