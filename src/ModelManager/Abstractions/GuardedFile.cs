using System.Globalization;
using System.Runtime.InteropServices;

namespace ModelManager;

/// <summary>The one way the library reads files: regular files only, with a size cap per kind of file and bounded reads; for backend authors.</summary>
/// <remarks>
/// A FIFO blocks the thread that opens it until a writer appears, and <c>/dev/zero</c> or <c>/dev/urandom</c> never end;
/// .NET reports both as ordinary zero-length files. So the kind of a path is read with <c>stat</c> (links followed) before
/// anything opens it, and a read never returns more than its cap. Thread-safe.
/// </remarks>
public static class GuardedFile
{
    private const int StatBufferBytes = 512;
    private const int ModeOffset = 4; // System.Native's FileStatus: int Flags, int Mode, ...
    private const int SizeOffset = 16; // ... uint Uid, uint Gid, long Size
    private const int TypeMask = 0xF000;

    private static bool _statUnavailable;

    /// <summary>What <paramref name="path"/> is, without opening it.</summary>
    public static FileKind GetKind(string path) => Stat(path).Kind;

    /// <summary>The kind of <paramref name="path"/> and, for a regular file, its size, both of the file a link points to.</summary>
    public static (FileKind Kind, long Length) Stat(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!OperatingSystem.IsWindows() && !Volatile.Read(ref _statUnavailable))
        {
            try
            {
                return StatPath(path);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                Volatile.Write(ref _statUnavailable, true); // fall back to what .NET reports
            }
        }

        if (Directory.Exists(path))
        {
            return (FileKind.Directory, 0);
        }

        // .NET reports a link's own length: resolve it first.
        var file = new FileInfo(path);
        if (file.LinkTarget is not null && file.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target)
        {
            file = target;
        }

        return file.Exists ? (FileKind.Regular, file.Length) : (FileKind.Missing, 0);
    }

    /// <summary>Checks that <paramref name="path"/> is a regular file of at most <paramref name="maxBytes"/> bytes and returns its size.</summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The cap for this kind of file.</param>
    /// <param name="what">What the file is for, in messages (<c>the config file</c>, <c>the GGUF file of model 'x'</c>).</param>
    /// <exception cref="FileNotFoundException">Nothing is at <paramref name="path"/>.</exception>
    /// <exception cref="UnreadableFileException">The path is not a regular file, or it is over the cap.</exception>
    public static long EnsureReadable(string path, long maxBytes, string what)
    {
        var (kind, length) = Stat(path);
        switch (kind)
        {
            case FileKind.Regular:
                break;
            case FileKind.Missing:
                throw new FileNotFoundException($"{path}: not found ({what}).", path);
            default:
                throw new UnreadableFileException(path, kind, $"{path}: is {Describe(kind)}, not a regular file ({what}); only regular files are read.");
        }

        if (length > maxBytes)
        {
            throw new UnreadableFileException(path, kind, string.Create(CultureInfo.InvariantCulture,
                $"{path}: is {length:N0} bytes, over the cap of {maxBytes:N0} bytes for {what}."));
        }

        return length;
    }

    /// <summary>Reads a regular file of at most <paramref name="maxBytes"/> bytes whole; never more than the length it had when checked, even if it grows meanwhile.</summary>
    /// <exception cref="FileNotFoundException">Nothing is at <paramref name="path"/>.</exception>
    /// <exception cref="UnreadableFileException">The path is not a regular file, or it is over the cap.</exception>
    public static byte[] ReadAllBytes(string path, long maxBytes, string what)
    {
        var length = EnsureReadable(path, maxBytes, what);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.SequentialScan);
        var buffer = new byte[length];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = stream.Read(buffer, read, buffer.Length - read);
            if (n == 0)
            {
                return buffer[..read]; // shrank meanwhile
            }

            read += n;
        }

        return buffer;
    }

    /// <summary>The kind in words, for messages.</summary>
    public static string Describe(FileKind kind) => kind switch
    {
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.Fifo => "a named pipe (FIFO)",
        FileKind.CharacterDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Socket => "a socket",
        FileKind.Missing => "missing",
        _ => "a special file",
    };

    private static unsafe (FileKind Kind, long Length) StatPath(string path)
    {
        var buffer = stackalloc byte[StatBufferBytes];
        if (NativeMethods.Stat(path, buffer) != 0)
        {
            return (FileKind.Missing, 0);
        }

        var kind = (*(int*)(buffer + ModeOffset) & TypeMask) switch
        {
            0x8000 => FileKind.Regular,
            0x4000 => FileKind.Directory,
            0x1000 => FileKind.Fifo,
            0x2000 => FileKind.CharacterDevice,
            0x6000 => FileKind.BlockDevice,
            0xC000 => FileKind.Socket,
            _ => FileKind.Other,
        };
        return (kind, *(long*)(buffer + SizeOffset));
    }

    private static unsafe class NativeMethods
    {
        // The runtime's own shim (libSystem.Native, shipped with every .NET on Unix): stat(2) with a platform-independent layout.
        [DllImport("libSystem.Native", EntryPoint = "SystemNative_Stat", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
        public static extern int Stat(string path, byte* output);
    }
}
