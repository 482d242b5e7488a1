using System.Buffers;
using System.Buffers.Binary;
using Microsoft.Win32.SafeHandles;

namespace Millrace.Storage.Embedded;

internal enum BlockType : byte
{
    Records = 1,
    Snapshot = 2,
    ShardOpened = 3,
    ShardSealed = 4,
}

/// <summary>Decoded fixed block header. See docs/storage.md for the byte layout.</summary>
internal readonly record struct BlockHeader(
    int Length,
    uint Crc,
    BlockType Type,
    ushort Flags,
    int ShardIndex,
    long StreamId,
    ulong FirstPosition,
    long ArrivalMs,
    int RecordCount);

/// <summary>One entry of a .idx file (and of the in-memory list of the active segment's record blocks).</summary>
internal readonly record struct SegmentIndexEntry(
    long StreamId,
    int ShardIndex,
    int RecordCount,
    ulong FirstPosition,
    long ArrivalMs,
    long Offset,
    int Length);

/// <summary>One shard's state as stored in a snapshot block.</summary>
internal readonly record struct SnapshotEntry(
    long StreamId,
    int ShardIndex,
    bool Sealed,
    ulong StartingPosition,
    ulong LastPosition,
    long LastArrivalMs);

/// <summary>Byte layouts of segment files, blocks, records and .idx files. All integers are little-endian.</summary>
internal static class LogFormat
{
    public const uint SegmentMagic = 0x4753524D; // "MRSG"
    public const uint IndexMagic = 0x5849524D; // "MRIX"
    public const ushort FormatVersion = 1;
    public const int SegmentHeaderSize = 16;
    public const int BlockHeaderSize = 48;
    public const int RecordHeaderSize = 6; // u16 key length + u32 data length
    public const int SnapshotEntrySize = 40;
    public const int IndexHeaderSize = 32;
    public const int IndexEntrySize = 48;
    public const int MaxBlockLength = 1 << 30;

    /// <summary>Block flag: the record section is AES-256-GCM encrypted (see <see cref="BlockCipher"/>).</summary>
    public const ushort FlagEncrypted = 1;

    public static string SegmentFileName(long id) => $"{id:D16}.seg";

    public static string IndexFileName(long id) => $"{id:D16}.idx";

    public static void WriteSegmentHeader(Span<byte> dst, long segmentId)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(dst, SegmentMagic);
        BinaryPrimitives.WriteUInt16LittleEndian(dst[4..], FormatVersion);
        BinaryPrimitives.WriteUInt16LittleEndian(dst[6..], 0);
        BinaryPrimitives.WriteInt64LittleEndian(dst[8..], segmentId);
    }

    public static bool IsValidSegmentHeader(ReadOnlySpan<byte> src, long segmentId) =>
        src.Length >= SegmentHeaderSize
        && BinaryPrimitives.ReadUInt32LittleEndian(src) == SegmentMagic
        && BinaryPrimitives.ReadUInt16LittleEndian(src[4..]) == FormatVersion
        && BinaryPrimitives.ReadInt64LittleEndian(src[8..]) == segmentId;

    public static void WriteBlockHeader(Span<byte> dst, int length, BlockType type, long streamId, int shardIndex,
        int recordCount, ulong firstPosition, long arrivalMs, ushort flags = 0)
    {
        BinaryPrimitives.WriteInt32LittleEndian(dst, length);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[4..], 0);
        dst[8] = (byte)type;
        dst[9] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(dst[10..], flags);
        BinaryPrimitives.WriteInt32LittleEndian(dst[12..], shardIndex);
        BinaryPrimitives.WriteInt64LittleEndian(dst[16..], streamId);
        BinaryPrimitives.WriteUInt64LittleEndian(dst[24..], firstPosition);
        BinaryPrimitives.WriteInt64LittleEndian(dst[32..], arrivalMs);
        BinaryPrimitives.WriteInt32LittleEndian(dst[40..], recordCount);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[44..], 0);
    }

    /// <summary>Computes the CRC of a fully written block and stores it in the header.</summary>
    public static void SealBlock(Span<byte> block) =>
        BinaryPrimitives.WriteUInt32LittleEndian(block[4..], Crc32C.Compute(block[8..]));

    public static BlockHeader ReadBlockHeader(ReadOnlySpan<byte> src) => new(
        BinaryPrimitives.ReadInt32LittleEndian(src),
        BinaryPrimitives.ReadUInt32LittleEndian(src[4..]),
        (BlockType)src[8],
        BinaryPrimitives.ReadUInt16LittleEndian(src[10..]),
        BinaryPrimitives.ReadInt32LittleEndian(src[12..]),
        BinaryPrimitives.ReadInt64LittleEndian(src[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(src[24..]),
        BinaryPrimitives.ReadInt64LittleEndian(src[32..]),
        BinaryPrimitives.ReadInt32LittleEndian(src[40..]));

    public static bool IsPlausibleLength(int length) => length >= BlockHeaderSize && length <= MaxBlockLength;

    /// <summary>Checks the CRC and that the body matches the header (record framing, snapshot size).</summary>
    public static bool VerifyBlock(ReadOnlySpan<byte> block)
    {
        if (block.Length < BlockHeaderSize)
        {
            return false;
        }
        var h = ReadBlockHeader(block);
        if (h.Length != block.Length || h.Crc != Crc32C.Compute(block[8..]) || h.RecordCount < 0)
        {
            return false;
        }
        if (h.Flags != 0)
        {
            // Only records blocks are encrypted; their framing is checked after decryption, the CRC already
            // protects against torn writes, and the GCM tag against everything else.
            return h.Type == BlockType.Records && h.Flags == FlagEncrypted && h.RecordCount > 0
                && BlockCipher.TryGetLayout(block, out int recordsStart, out int recordsEnd)
                && recordsEnd - recordsStart >= (long)h.RecordCount * RecordHeaderSize;
        }
        switch (h.Type)
        {
            case BlockType.Records:
                return VerifyRecords(block, BlockHeaderSize, block.Length, h.RecordCount);
            case BlockType.Snapshot:
                return block.Length == BlockHeaderSize + ((long)h.RecordCount * SnapshotEntrySize);
            case BlockType.ShardOpened:
            case BlockType.ShardSealed:
                return block.Length == BlockHeaderSize;
            default:
                return false;
        }
    }

    /// <summary>Checks that <c>block[start..end)</c> is exactly <paramref name="recordCount"/> framed records.</summary>
    public static bool VerifyRecords(ReadOnlySpan<byte> block, int start, int end, int recordCount)
    {
        int pos = start;
        for (int i = 0; i < recordCount; i++)
        {
            if (end - pos < RecordHeaderSize)
            {
                return false;
            }
            int keyLen = BinaryPrimitives.ReadUInt16LittleEndian(block[pos..]);
            uint dataLen = BinaryPrimitives.ReadUInt32LittleEndian(block[(pos + 2)..]);
            long next = (long)pos + RecordHeaderSize + keyLen + dataLen;
            if (next > end)
            {
                return false;
            }
            pos = (int)next;
        }
        return pos == end && recordCount > 0;
    }

    public static int RecordsSize(ReadOnlySpan<byte> key, ReadOnlySpan<byte> data) => RecordHeaderSize + key.Length + data.Length;

    public static int WriteRecord(Span<byte> dst, ReadOnlySpan<byte> key, ReadOnlySpan<byte> data)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(dst, (ushort)key.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[2..], (uint)data.Length);
        key.CopyTo(dst[RecordHeaderSize..]);
        data.CopyTo(dst[(RecordHeaderSize + key.Length)..]);
        return RecordHeaderSize + key.Length + data.Length;
    }

    public static void WriteSnapshotEntry(Span<byte> dst, in SnapshotEntry e)
    {
        BinaryPrimitives.WriteInt64LittleEndian(dst, e.StreamId);
        BinaryPrimitives.WriteInt32LittleEndian(dst[8..], e.ShardIndex);
        BinaryPrimitives.WriteUInt32LittleEndian(dst[12..], e.Sealed ? 1u : 0u);
        BinaryPrimitives.WriteUInt64LittleEndian(dst[16..], e.StartingPosition);
        BinaryPrimitives.WriteUInt64LittleEndian(dst[24..], e.LastPosition);
        BinaryPrimitives.WriteInt64LittleEndian(dst[32..], e.LastArrivalMs);
    }

    public static SnapshotEntry ReadSnapshotEntry(ReadOnlySpan<byte> src) => new(
        BinaryPrimitives.ReadInt64LittleEndian(src),
        BinaryPrimitives.ReadInt32LittleEndian(src[8..]),
        (BinaryPrimitives.ReadUInt32LittleEndian(src[12..]) & 1) != 0,
        BinaryPrimitives.ReadUInt64LittleEndian(src[16..]),
        BinaryPrimitives.ReadUInt64LittleEndian(src[24..]),
        BinaryPrimitives.ReadInt64LittleEndian(src[32..]));

    /// <summary>Result of scanning a segment file block by block.</summary>
    /// <param name="HeaderValid">The segment header is intact.</param>
    /// <param name="ValidLength">Offset just past the last intact block (where a torn tail starts).</param>
    /// <param name="FileLength">Length of the file when scanned.</param>
    /// <param name="BlockCount">Number of intact blocks.</param>
    public readonly record struct ScanResult(bool HeaderValid, long ValidLength, long FileLength, int BlockCount);

    public delegate void BlockVisitor(in BlockHeader header, long offset, ReadOnlySpan<byte> block);

    /// <summary>Reads a segment sequentially, verifying length and CRC of every block; stops at the first block that is
    /// torn or corrupt. Reads in large chunks so that recovery does not make one syscall per block.</summary>
    public static ScanResult ScanSegment(SafeFileHandle handle, long segmentId, BlockVisitor visitor)
    {
        long fileLength = RandomAccess.GetLength(handle);
        Span<byte> header = stackalloc byte[SegmentHeaderSize];
        if (fileLength < SegmentHeaderSize || RandomAccess.Read(handle, header, 0) != SegmentHeaderSize
            || !IsValidSegmentHeader(header, segmentId))
        {
            return new ScanResult(false, 0, fileLength, 0);
        }
        byte[] buffer = ArrayPool<byte>.Shared.Rent(1 << 20);
        try
        {
            long bufferStart = SegmentHeaderSize; // file offset of buffer[0]
            int bufferCount = 0;
            long offset = SegmentHeaderSize;
            int blocks = 0;
            while (offset < fileLength)
            {
                if (fileLength - offset < BlockHeaderSize)
                {
                    break;
                }
                if (!EnsureBuffered(handle, ref buffer, ref bufferStart, ref bufferCount, offset, BlockHeaderSize))
                {
                    break;
                }
                int length = BinaryPrimitives.ReadInt32LittleEndian(buffer.AsSpan((int)(offset - bufferStart)));
                if (!IsPlausibleLength(length) || length > fileLength - offset)
                {
                    break;
                }
                if (!EnsureBuffered(handle, ref buffer, ref bufferStart, ref bufferCount, offset, length))
                {
                    break;
                }
                var block = buffer.AsSpan((int)(offset - bufferStart), length);
                if (!VerifyBlock(block))
                {
                    break;
                }
                var h = ReadBlockHeader(block);
                visitor(h, offset, block);
                offset += length;
                blocks++;
            }
            return new ScanResult(true, offset, fileLength, blocks);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static bool EnsureBuffered(SafeFileHandle handle, ref byte[] buffer, ref long bufferStart, ref int bufferCount,
        long offset, int length)
    {
        if (offset >= bufferStart && offset + length <= bufferStart + bufferCount)
        {
            return true;
        }
        if (buffer.Length < length)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = ArrayPool<byte>.Shared.Rent(length);
        }
        bufferStart = offset;
        bufferCount = 0;
        while (bufferCount < buffer.Length)
        {
            int n = RandomAccess.Read(handle, buffer.AsSpan(bufferCount), offset + bufferCount);
            if (n <= 0)
            {
                break;
            }
            bufferCount += n;
        }
        return bufferCount >= length;
    }

    /// <summary>Writes a .idx file (temp file, fsync, rename) for a sealed segment.</summary>
    public static void WriteIndexFile(string path, long segmentId, long segmentLength, IReadOnlyList<SegmentIndexEntry> entries)
    {
        int size = IndexHeaderSize + (entries.Count * IndexEntrySize) + 4;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var span = buffer.AsSpan(0, size);
            BinaryPrimitives.WriteUInt32LittleEndian(span, IndexMagic);
            BinaryPrimitives.WriteUInt16LittleEndian(span[4..], FormatVersion);
            BinaryPrimitives.WriteUInt16LittleEndian(span[6..], 0);
            BinaryPrimitives.WriteInt64LittleEndian(span[8..], segmentId);
            BinaryPrimitives.WriteInt64LittleEndian(span[16..], segmentLength);
            BinaryPrimitives.WriteInt32LittleEndian(span[24..], entries.Count);
            BinaryPrimitives.WriteUInt32LittleEndian(span[28..], 0);
            int pos = IndexHeaderSize;
            foreach (var e in entries)
            {
                var d = span[pos..];
                BinaryPrimitives.WriteInt64LittleEndian(d, e.StreamId);
                BinaryPrimitives.WriteInt32LittleEndian(d[8..], e.ShardIndex);
                BinaryPrimitives.WriteInt32LittleEndian(d[12..], e.RecordCount);
                BinaryPrimitives.WriteUInt64LittleEndian(d[16..], e.FirstPosition);
                BinaryPrimitives.WriteInt64LittleEndian(d[24..], e.ArrivalMs);
                BinaryPrimitives.WriteInt64LittleEndian(d[32..], e.Offset);
                BinaryPrimitives.WriteInt32LittleEndian(d[40..], e.Length);
                BinaryPrimitives.WriteUInt32LittleEndian(d[44..], 0);
                pos += IndexEntrySize;
            }
            BinaryPrimitives.WriteUInt32LittleEndian(span[pos..], Crc32C.Compute(span[..pos]));
            string tmp = path + ".tmp";
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 1))
            {
                fs.Write(span);
                fs.Flush(true);
            }
            File.Move(tmp, path, overwrite: true);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>Loads a .idx file; null when it is missing, corrupt, or does not match the segment's length.</summary>
    public static List<SegmentIndexEntry>? TryReadIndexFile(string path, long segmentId, long segmentLength)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (FileNotFoundException)
        {
            return null;
        }
        var span = bytes.AsSpan();
        if (span.Length < IndexHeaderSize + 4
            || BinaryPrimitives.ReadUInt32LittleEndian(span) != IndexMagic
            || BinaryPrimitives.ReadUInt16LittleEndian(span[4..]) != FormatVersion
            || BinaryPrimitives.ReadInt64LittleEndian(span[8..]) != segmentId
            || BinaryPrimitives.ReadInt64LittleEndian(span[16..]) != segmentLength)
        {
            return null;
        }
        int count = BinaryPrimitives.ReadInt32LittleEndian(span[24..]);
        if (count < 0 || span.Length != IndexHeaderSize + ((long)count * IndexEntrySize) + 4)
        {
            return null;
        }
        int end = span.Length - 4;
        if (BinaryPrimitives.ReadUInt32LittleEndian(span[end..]) != Crc32C.Compute(span[..end]))
        {
            return null;
        }
        var list = new List<SegmentIndexEntry>(count);
        for (int pos = IndexHeaderSize; pos < end; pos += IndexEntrySize)
        {
            var d = span[pos..];
            list.Add(new SegmentIndexEntry(
                BinaryPrimitives.ReadInt64LittleEndian(d),
                BinaryPrimitives.ReadInt32LittleEndian(d[8..]),
                BinaryPrimitives.ReadInt32LittleEndian(d[12..]),
                BinaryPrimitives.ReadUInt64LittleEndian(d[16..]),
                BinaryPrimitives.ReadInt64LittleEndian(d[24..]),
                BinaryPrimitives.ReadInt64LittleEndian(d[32..]),
                BinaryPrimitives.ReadInt32LittleEndian(d[40..])));
        }
        return list;
    }
}
