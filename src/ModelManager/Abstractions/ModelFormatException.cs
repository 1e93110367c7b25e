namespace ModelManager;

/// <summary>A model file or folder is malformed; names the file and, where known, the byte offset.</summary>
/// <remarks>Backends throw it from managed validation, before any native code sees the file.</remarks>
public class ModelFormatException : ModelLoadException
{
    /// <summary>Creates the exception for <paramref name="filePath"/>.</summary>
    public ModelFormatException(string filePath, string message, long? offset = null, string modelName = "", Exception? innerException = null)
        : base(modelName, Compose(filePath, message, offset), innerException)
    {
        FilePath = filePath;
        Offset = offset;
    }

    /// <summary>The file (or folder) that failed validation.</summary>
    public string FilePath { get; }

    /// <summary>The byte offset in <see cref="FilePath"/> where the problem was found, when it is a byte-level problem.</summary>
    public long? Offset { get; }

    private static string Compose(string filePath, string message, long? offset) =>
        offset is { } o ? $"{filePath}: {message} (at offset {o})" : $"{filePath}: {message}";
}
