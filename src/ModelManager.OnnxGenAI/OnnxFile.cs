namespace ModelManager;

/// <summary>One file of an ONNX model and its size on disk.</summary>
/// <param name="Path">The full path.</param>
/// <param name="Bytes">The size in bytes.</param>
internal sealed record OnnxFile(string Path, long Bytes);
