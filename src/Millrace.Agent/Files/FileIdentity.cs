using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Millrace.Agent.Files;

/// <summary>
/// What a file is, beyond its name: device and inode (kept by a rename, shared by a truncated file) and a fingerprint
/// of its first bytes (kept by a copy, changed by a truncate and refill), so that every rotation style is told apart.
/// </summary>
internal readonly partial record struct FileIdentity(ulong Device, ulong Inode)
{
    /// <summary>Bytes the fingerprint covers: enough to tell log files apart by their first lines (timestamps, numbers).</summary>
    public const int FingerprintBytes = 512;

    public static FileIdentity Of(SafeFileHandle handle)
    {
        var stat = Stat(handle);
        return new FileIdentity(stat.Device, stat.Inode);
    }

    /// <summary>The identity, size and modification time (ms) of the file a path names now; null if there is none.</summary>
    public static (FileIdentity Id, long Size, long ModifiedMs)? OfPath(string path)
    {
        if (Native.Stat(path, out var s) != 0)
        {
            return null;
        }

        return (new FileIdentity(s.Device, s.Inode), s.Size, (s.ModifySeconds * 1000) + (s.ModifyNanoseconds / 1_000_000));
    }

    /// <summary>The file's current size as the open handle sees it (after a rename, truncation or deletion too).</summary>
    public static long SizeOf(SafeFileHandle handle) => Stat(handle).Size;

    private static Native.StatBuffer Stat(SafeFileHandle handle)
    {
        if (Native.FStat((int)handle.DangerousGetHandle(), out var buffer) != 0)
        {
            throw new IOException($"fstat failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return buffer;
    }

    /// <summary>The first bytes of a file (at most <see cref="FingerprintBytes"/>), read without moving any stream.</summary>
    public static byte[] Fingerprint(SafeFileHandle handle, long size)
    {
        var bytes = new byte[(int)Math.Min(size, FingerprintBytes)];
        var read = 0;
        while (read < bytes.Length)
        {
            var n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return read == bytes.Length ? bytes : bytes[..read];
    }

    /// <summary>True when one fingerprint is a prefix of the other: the same file seen at two sizes.</summary>
    public static bool SameStart(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b)
    {
        var n = Math.Min(a.Length, b.Length);
        return n > 0 && a[..n].SequenceEqual(b[..n]);
    }

    private static partial class Native
    {
        /// <summary>struct stat of Linux x86-64 (glibc 2.33+ exports fstat itself; Debian 12 has 2.36).</summary>
        [StructLayout(LayoutKind.Sequential)]
        public struct StatBuffer
        {
            public ulong Device;
            public ulong Inode;
            public ulong LinkCount;
            public uint Mode;
            public uint Uid;
            public uint Gid;
            public int Padding;
            public ulong RDevice;
            public long Size;
            public long BlockSize;
            public long Blocks;
            public long AccessSeconds;
            public long AccessNanoseconds;
            public long ModifySeconds;
            public long ModifyNanoseconds;
            public long ChangeSeconds;
            public long ChangeNanoseconds;
            public long Reserved0;
            public long Reserved1;
            public long Reserved2;
        }

        [LibraryImport("libc.so.6", EntryPoint = "fstat", SetLastError = true)]
        public static partial int FStat(int fd, out StatBuffer buffer);

        [LibraryImport("libc.so.6", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
        public static partial int Stat(string path, out StatBuffer buffer);
    }
}
