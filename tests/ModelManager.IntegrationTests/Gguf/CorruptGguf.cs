namespace ModelManager.IntegrationTests;

/// <summary>One malformed GGUF file: its bytes, where the reader must say the problem is, and words its message must contain.</summary>
/// <param name="Name">A short name that says what is wrong.</param>
/// <param name="Bytes">The file's content.</param>
/// <param name="ExpectedOffset">The byte offset the error must name, or null when any offset within the file will do.</param>
/// <param name="ExpectedMessage">A fragment the error message must contain (case-insensitive).</param>
internal sealed record CorruptGguf(string Name, byte[] Bytes, long? ExpectedOffset, string ExpectedMessage)
{
    /// <inheritdoc />
    public override string ToString() => Name;
}
