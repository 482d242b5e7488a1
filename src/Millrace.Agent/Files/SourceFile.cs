using System.IO.Compression;
using Microsoft.Win32.SafeHandles;

namespace Millrace.Agent.Files;

/// <summary>
/// One file a flow reads: kept open from the first read to the last, so a rename, a compression that deletes it or a
/// deletion never cuts a read short. Bytes read but not yet made into records (a partial line, an unfinished
/// multi-line record) stay in <see cref="Pending"/>; <see cref="Offset"/> is the file offset of the first of them, so
/// a checkpoint is always at a record boundary. A gzip copy (logrotate <c>compress</c>) is read decompressed.
/// </summary>
internal sealed class SourceFile : IDisposable
{
    private const int ChunkBytes = 256 * 1024;

    private readonly SafeFileHandle _handle;
    private readonly GZipStream? _gzip;
    private bool _handedOver;
    private long _readPosition;
    private byte[] _pending = new byte[ChunkBytes];

    private SourceFile(string path, SafeFileHandle handle, FileIdentity id, byte[] fingerprint, long offset, GZipStream? gzip, long content)
    {
        Path = path;
        Content = content;
        _handle = handle;
        Id = id;
        Fingerprint = fingerprint;
        Offset = offset;
        _readPosition = offset;
        _gzip = gzip;
    }

    /// <summary>The path the file had when it was opened (rotation may have renamed or deleted it since).</summary>
    public string Path { get; }

    public FileIdentity Id { get; }

    /// <summary>
    /// The content read (its checkpoint row): kept by a copy of the file, which reads on where this file stopped;
    /// a new one when the file is truncated under the reader.
    /// </summary>
    public long Content { get; }

    /// <summary>A name for content never seen before.</summary>
    public static long NewContent() => Random.Shared.NextInt64(1, long.MaxValue);

    public byte[] Fingerprint { get; private set; }

    public bool Compressed => _gzip is not null;

    /// <summary>File offset of <see cref="Pending"/>'s first byte: everything before it is made into records.</summary>
    public long Offset { get; private set; }

    public int PendingLength { get; private set; }

    public ReadOnlySpan<byte> Pending => _pending.AsSpan(0, PendingLength);

    /// <summary>Where the newline search of <see cref="Pending"/> resumes (bytes before it hold no unhandled newline).</summary>
    public int Scanned { get; set; }

    /// <summary>Header lines still to skip (skipHeaderLines, counted from the file's first byte).</summary>
    public int HeaderLinesLeft { get; set; }

    /// <summary>The fileFooterPattern matched: the rest of the file is not read.</summary>
    public bool Ended { get; set; }

    /// <summary>A record over the destination's maximum was cut: the rest of its line is dropped.</summary>
    public bool SkippingToNewline { get; set; }

    /// <summary>The last read found nothing more.</summary>
    public bool AtEndOfData { get; set; }

    /// <summary>When the file last gave new bytes (agent clock, ms).</summary>
    public long LastGrowthMs { get; set; }

    /// <summary>Opens <paramref name="path"/> as <paramref name="content"/>; reading starts at <paramref name="offset"/>. Null if it is gone.</summary>
    public static SourceFile? Open(string path, long content, long offset, int skipHeaderLines, long nowMs)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var id = FileIdentity.Of(handle);
        GZipStream? gzip = null;
        byte[] fingerprint;
        if (IsGzip(handle))
        {
            fingerprint = GzipFingerprint(path) ?? [];
            gzip = new GZipStream(new FileStream(handle, FileAccess.Read, 1), CompressionMode.Decompress);
            SkipTo(gzip, offset);
        }
        else
        {
            fingerprint = FileIdentity.Fingerprint(handle, FileIdentity.SizeOf(handle));
        }

        return new SourceFile(path, handle, id, fingerprint, offset, gzip, content) { HeaderLinesLeft = offset == 0 ? skipHeaderLines : 0, LastGrowthMs = nowMs };
    }

    /// <summary>The first bytes of a gzip copy, decompressed (to match it with the file it was made from); null if not gzip or gone.</summary>
    public static byte[]? GzipFingerprint(string path)
    {
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (!IsGzip(handle))
            {
                return null;
            }

            using var gzip = new GZipStream(new FileStream(handle, FileAccess.Read, 1), CompressionMode.Decompress);
            return ReadStart(gzip);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>The file's size now as its handle sees it (uncompressed files only).</summary>
    public long CurrentSize => FileIdentity.SizeOf(_handle);

    /// <summary>Re-reads the first bytes: a file truncated and refilled starts differently.</summary>
    public byte[] ReadFingerprintNow() => FileIdentity.Fingerprint(_handle, CurrentSize);

    /// <summary>Keeps the fingerprint growing to its full length as a young file fills.</summary>
    public void RefreshFingerprint(byte[] now)
    {
        if (now.Length > Fingerprint.Length)
        {
            Fingerprint = now;
        }
    }

    /// <summary>Appends what the file has beyond what was read to <see cref="Pending"/>; the number of bytes (0 at its end).</summary>
    public int ReadMore()
    {
        if (_pending.Length - PendingLength < ChunkBytes / 2)
        {
            Array.Resize(ref _pending, Math.Max(_pending.Length * 2, PendingLength + ChunkBytes));
        }

        int n;
        try
        {
            n = _gzip is not null
                ? _gzip.Read(_pending, PendingLength, _pending.Length - PendingLength)
                : RandomAccess.Read(_handle, _pending.AsSpan(PendingLength), _readPosition);
        }
        catch (InvalidDataException)
        {
            // A gzip copy still being written by logrotate: read the rest next time.
            return 0;
        }

        PendingLength += n;
        _readPosition += n;
        return n;
    }

    /// <summary>Takes back the last <paramref name="count"/> bytes read: they came from a file replaced under the read.</summary>
    public void Unread(int count)
    {
        PendingLength -= count;
        _readPosition -= count;
        Scanned = Math.Min(Scanned, PendingLength);
    }

    /// <summary>
    /// The file under the handle is no longer the one read so far: shorter than what was read (truncated), or
    /// starting differently (truncated and refilled). Uncompressed files only.
    /// </summary>
    public bool Replaced()
    {
        if (Compressed)
        {
            return false;
        }

        var known = Offset + PendingLength;
        if (CurrentSize < known)
        {
            return true;
        }

        var now = ReadFingerprintNow();
        return (now.Length > 0 && !FileIdentity.SameStart(now, Fingerprint)) || (now.Length == 0 && known > 0);
    }

    /// <summary>Drops the first <paramref name="count"/> pending bytes (made into records or skipped).</summary>
    public void Consume(int count)
    {
        if (count == 0)
        {
            return;
        }

        _pending.AsSpan(count, PendingLength - count).CopyTo(_pending);
        PendingLength -= count;
        Scanned = Math.Max(0, Scanned - count);
        Offset += count;
        if (_pending.Length > 4 * ChunkBytes && PendingLength < ChunkBytes)
        {
            Array.Resize(ref _pending, ChunkBytes);
        }
    }

    /// <summary>
    /// After a truncation or a replacement in place: the same file (handle) as new content, read from its first byte.
    /// This object keeps describing the old content, for the records of it still on their way.
    /// </summary>
    public SourceFile Reopen(int skipHeaderLines, long nowMs)
    {
        _handedOver = true;
        return new SourceFile(Path, _handle, Id, ReadFingerprintNow(), 0, null, NewContent()) { HeaderLinesLeft = skipHeaderLines, LastGrowthMs = nowMs };
    }

    public void Dispose()
    {
        if (!_handedOver)
        {
            _gzip?.Dispose();
            _handle.Dispose();
        }
    }

    private static bool IsGzip(SafeFileHandle handle)
    {
        Span<byte> magic = stackalloc byte[2];
        return RandomAccess.Read(handle, magic, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    }

    private static byte[] ReadStart(Stream gzip)
    {
        var start = new byte[FileIdentity.FingerprintBytes];
        var read = 0;
        try
        {
            int n;
            while (read < start.Length && (n = gzip.Read(start, read, start.Length - read)) > 0)
            {
                read += n;
            }
        }
        catch (InvalidDataException)
        {
        }

        return start[..read];
    }

    private static void SkipTo(Stream gzip, long count)
    {
        var scratch = new byte[64 * 1024];
        while (count > 0)
        {
            int n;
            try
            {
                n = gzip.Read(scratch, 0, (int)Math.Min(scratch.Length, count));
            }
            catch (InvalidDataException)
            {
                break;
            }

            if (n == 0)
            {
                break;
            }

            count -= n;
        }
    }
}
