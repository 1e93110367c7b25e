namespace ModelManager;

/// <summary>A path the library was asked to read is not a regular file, or is larger than the cap for its kind of file.</summary>
/// <remarks>Raised by <see cref="GuardedFile"/> before the file is opened, so no read can block or run away.</remarks>
public sealed class UnreadableFileException : IOException
{
    /// <summary>Creates the exception for <paramref name="filePath"/> of kind <paramref name="kind"/>.</summary>
    public UnreadableFileException(string filePath, FileKind kind, string message)
        : base(message)
    {
        FilePath = filePath;
        Kind = kind;
    }

    /// <summary>The path that was refused.</summary>
    public string FilePath { get; }

    /// <summary>What the path is.</summary>
    public FileKind Kind { get; }
}
