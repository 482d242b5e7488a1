using System.Runtime.InteropServices;

namespace Millrace.Storage.Embedded;

/// <summary>fsync of a directory, so that file creations, renames and deletions inside it are durable.</summary>
internal static partial class DirectorySync
{
    private static volatile bool s_useVersionedLibc;

    public static void Fsync(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return; // NTFS journals metadata; there is no directory handle fsync.
        }
        if (!s_useVersionedLibc)
        {
            try
            {
                FsyncWith(directory, Libc.Open, Libc.Fsync, Libc.Close);
                return;
            }
            catch (DllNotFoundException)
            {
                // "libc" resolves to libc.so, which exists only with development packages on glibc systems.
                s_useVersionedLibc = true;
            }
        }
        FsyncWith(directory, Libc6.Open, Libc6.Fsync, Libc6.Close);
    }

    private static void FsyncWith(string directory, Func<string, int, int> open, Func<int, int> fsync, Func<int, int> close)
    {
        int fd = open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"Cannot open directory '{directory}' for fsync (errno {Marshal.GetLastPInvokeError()}).");
        }
        try
        {
            if (fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory '{directory}' failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    private static partial class Libc
    {
        [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
        public static partial int Fsync(int fd);

        [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);
    }

    private static partial class Libc6
    {
        [LibraryImport("libc.so.6", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc.so.6", EntryPoint = "fsync", SetLastError = true)]
        public static partial int Fsync(int fd);

        [LibraryImport("libc.so.6", EntryPoint = "close", SetLastError = true)]
        public static partial int Close(int fd);
    }
}
