namespace ModelManager;

/// <summary>What <see cref="OnnxFileScanner"/> found in one ONNX file.</summary>
/// <param name="ExternalDataLocations">External data files its tensors reference, relative to the ONNX file's folder.</param>
/// <param name="KvElementBytes">Bytes per element of its KV-cache (past) inputs, or 0 when not found.</param>
internal sealed record OnnxFileScan(IReadOnlyList<string> ExternalDataLocations, int KvElementBytes);
