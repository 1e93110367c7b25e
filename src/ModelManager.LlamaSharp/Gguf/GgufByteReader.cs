using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Text;

namespace ModelManager;

/// <summary>A bounds-checked little-endian cursor over a seekable stream, for <see cref="GgufReader"/>.</summary>
/// <remarks>
/// Every read first checks the bytes that remain in the file, so a lying length can neither make it
/// allocate nor read past the end: it throws <see cref="ModelFormatException"/> naming the offset.
/// Not thread-safe; does not own the stream. The reading methods are compiled optimized at their first call
/// (<see cref="MethodImplOptions.AggressiveOptimization"/>): a process reads a few headers, each a loop over up to hundreds of
/// thousands of entries, so the tiered JIT's unoptimized first code would run for all of them (see <see cref="GgufReader"/>).
/// </remarks>
internal sealed class GgufByteReader
{
    private const int BufferSize = 64 * 1024;

    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[BufferSize];
    private long _bufferStart;
    private int _bufferCount;

    public GgufByteReader(Stream stream, string filePath)
    {
        _stream = stream;
        FilePath = filePath;
        Length = stream.Length;
    }

    public string FilePath { get; }

    public long Length { get; }

    public long Position { get; private set; }

    public long Remaining => Length - Position;

    public ModelFormatException Error(string message, long offset) => new(FilePath, message, offset);

    /// <summary>
    /// Clears the read-ahead buffer, which ends up holding the file's first tensor bytes past the header: left in freed
    /// memory, whole small tensors there could be taken for the loaded weights by the huge-page search.
    /// </summary>
    public void Wipe() => _buffer.AsSpan().Clear();

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public byte ReadByte(string what) => Take(1, what)[0];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ushort ReadUInt16(string what) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, what));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public uint ReadUInt32(string what) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, what));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public ulong ReadUInt64(string what) => BinaryPrimitives.ReadUInt64LittleEndian(Take(8, what));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public float ReadSingle(string what) => BinaryPrimitives.ReadSingleLittleEndian(Take(4, what));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public double ReadDouble(string what) => BinaryPrimitives.ReadDoubleLittleEndian(Take(8, what));

    /// <summary>Reads a GGUF string (u64 length, then UTF-8 bytes) of at most <paramref name="maxLength"/> bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public string ReadString(string what, long maxLength)
    {
        long start = Position;
        int length = ReadStringLength(what, maxLength, start);
        if (length <= BufferSize)
        {
            return Encoding.UTF8.GetString(Take(length, what));
        }

        // Larger than the buffer: the length is already bounded by the bytes the file really has.
        var bytes = new byte[length];
        ReadExactly(bytes, what);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Skips a GGUF string after checking its length like <see cref="ReadString"/>; returns its length in bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int SkipString(string what, long maxLength)
    {
        long start = Position;
        int length = ReadStringLength(what, maxLength, start);
        Skip(length, what);
        return length;
    }

    /// <summary>Moves forward <paramref name="count"/> bytes, which must exist.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Skip(long count, string what)
    {
        Require(count, what);
        Position += count;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int ReadStringLength(string what, long maxLength, long start)
    {
        ulong length = ReadUInt64(what + " length");
        if (length > (ulong)maxLength)
        {
            throw Error($"{what} has length {length}, more than the limit of {maxLength} bytes", start);
        }

        if (length > (ulong)Remaining)
        {
            throw Error($"{what} has length {length} but only {Remaining} bytes remain in the file (truncated or corrupt)", start);
        }

        return (int)length;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Require(long count, string what)
    {
        if (count < 0 || count > Remaining)
        {
            throw Error($"unexpected end of file reading {what}: {count} bytes needed, {Remaining} remain (truncated file)", Position);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ReadOnlySpan<byte> Take(int count, string what)
    {
        Require(count, what);
        long end = Position + count;
        if (Position < _bufferStart || end > _bufferStart + _bufferCount)
        {
            Fill(count, what);
        }

        var span = new ReadOnlySpan<byte>(_buffer, (int)(Position - _bufferStart), count);
        Position = end;
        return span;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReadExactly(Span<byte> destination, string what)
    {
        Require(destination.Length, what);
        int copied = 0;
        while (copied < destination.Length)
        {
            int chunk = Math.Min(BufferSize, destination.Length - copied);
            Take(chunk, what).CopyTo(destination[copied..]);
            copied += chunk;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Fill(int count, string what)
    {
        _stream.Position = Position;
        _bufferStart = Position;
        _bufferCount = 0;
        int wanted = (int)Math.Min(BufferSize, Length - Position);
        while (_bufferCount < wanted)
        {
            int n = _stream.Read(_buffer, _bufferCount, wanted - _bufferCount);
            if (n == 0)
            {
                break;
            }

            _bufferCount += n;
        }

        if (_bufferCount < count)
        {
            // The file shrank while we read it.
            throw Error($"unexpected end of file reading {what}", Position + _bufferCount);
        }
    }
}
