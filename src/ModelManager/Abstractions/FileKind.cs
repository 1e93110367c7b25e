namespace ModelManager;

/// <summary>What a path names, as <see cref="GuardedFile.GetKind"/> finds it (links followed) without opening it.</summary>
public enum FileKind
{
    /// <summary>Nothing is there (or a link points nowhere).</summary>
    Missing,

    /// <summary>A regular file: the only kind the library reads.</summary>
    Regular,

    /// <summary>A directory.</summary>
    Directory,

    /// <summary>A named pipe (FIFO): opening it blocks until a writer appears, and it never ends.</summary>
    Fifo,

    /// <summary>A character device such as <c>/dev/zero</c> or <c>/dev/urandom</c>: endless.</summary>
    CharacterDevice,

    /// <summary>A block device.</summary>
    BlockDevice,

    /// <summary>A Unix domain socket.</summary>
    Socket,

    /// <summary>Another kind the platform reports.</summary>
    Other,
}
