namespace ModelManager;

/// <summary>One generated token: its id and the text it completes (empty while a multi-byte character is incomplete).</summary>
/// <param name="Id">The token id.</param>
/// <param name="Text">The decoded text piece.</param>
internal readonly record struct GeneratedToken(int Id, string Text);
