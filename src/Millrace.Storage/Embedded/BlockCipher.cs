using System.Security.Cryptography;
using System.Text;

namespace Millrace.Storage.Embedded;

/// <summary>
/// Encryption of a records block's record section with AES-256-GCM. Layout after the 48-byte header (flags bit 0):
/// key id length (1 byte), key id (UTF-8), nonce (12 random bytes), ciphertext of the record section, tag (16).
/// The associated data is everything before the nonce with the CRC field as zero, so a block can be neither moved
/// (stream, shard, positions, arrival time are bound to it) nor pointed at another key. See docs/storage.md.
/// </summary>
internal static class BlockCipher
{
    public const int NonceSize = 12;
    public const int TagSize = 16;
    public const int KeySize = 32;
    public const int MaxKeyIdBytes = 255;

    /// <summary>Bytes an encrypted block has beyond its header and record section.</summary>
    public static int Overhead(int keyIdBytes) => 1 + keyIdBytes + NonceSize + TagSize;

    /// <summary>Writes key id and a fresh random nonce right after the header; returns the bytes written.</summary>
    public static int WritePrefix(Span<byte> dst, ReadOnlySpan<byte> keyIdUtf8)
    {
        dst[0] = (byte)keyIdUtf8.Length;
        keyIdUtf8.CopyTo(dst[1..]);
        // Random 96-bit nonces: unique with overwhelming probability, and unlike a position-derived nonce they stay
        // unique when a torn tail is cut and its offsets are written again.
        RandomNumberGenerator.Fill(dst.Slice(1 + keyIdUtf8.Length, NonceSize));
        return 1 + keyIdUtf8.Length + NonceSize;
    }

    /// <summary>Where the record section of an encrypted block starts and ends (exclusive); false when the block is
    /// too short for its own key id, nonce and tag.</summary>
    public static bool TryGetLayout(ReadOnlySpan<byte> block, out int recordsStart, out int recordsEnd)
    {
        recordsStart = recordsEnd = 0;
        if (block.Length < LogFormat.BlockHeaderSize + Overhead(1))
        {
            return false;
        }
        int keyIdLength = block[LogFormat.BlockHeaderSize];
        recordsStart = LogFormat.BlockHeaderSize + 1 + keyIdLength + NonceSize;
        recordsEnd = block.Length - TagSize;
        return keyIdLength > 0 && recordsStart <= recordsEnd;
    }

    public static ReadOnlySpan<byte> KeyIdOf(ReadOnlySpan<byte> block) =>
        block.Slice(LogFormat.BlockHeaderSize + 1, block[LogFormat.BlockHeaderSize]);

    /// <summary>Encrypts the record section of a fully written block in place and fills in the tag. The header must
    /// be final except for the CRC, which is computed afterwards over the ciphertext.</summary>
    public static void Encrypt(AesGcm aes, Span<byte> block)
    {
        if (!TryGetLayout(block, out int start, out int end))
        {
            throw new InvalidOperationException("Encrypted block layout is inconsistent.");
        }
        Span<byte> aad = stackalloc byte[LogFormat.BlockHeaderSize + 1 + MaxKeyIdBytes];
        int aadLength = AssociatedData(block, start, aad);
        var records = block[start..end];
        aes.Encrypt(block[(start - NonceSize)..start], records, records, block.Slice(end, TagSize), aad[..aadLength]);
    }

    /// <summary>Decrypts the record section in place. Throws <see cref="AuthenticationTagMismatchException"/> when
    /// the key is wrong or anything covered by the tag was changed.</summary>
    public static void Decrypt(AesGcm aes, Span<byte> block, int start, int end)
    {
        Span<byte> aad = stackalloc byte[LogFormat.BlockHeaderSize + 1 + MaxKeyIdBytes];
        int aadLength = AssociatedData(block, start, aad);
        var records = block[start..end];
        aes.Decrypt(block[(start - NonceSize)..start], records, block.Slice(end, TagSize), records, aad[..aadLength]);
    }

    private static int AssociatedData(ReadOnlySpan<byte> block, int recordsStart, Span<byte> aad)
    {
        int length = recordsStart - NonceSize;
        block[..length].CopyTo(aad);
        aad.Slice(4, 4).Clear(); // the CRC is computed after encryption
        return length;
    }

    /// <summary>Gets a key from the provider into a cipher; null when the provider does not have it.</summary>
    public static AesGcm? TryCreate(IEncryptionKeyProvider? keys, string keyId)
    {
        if (keys is null)
        {
            return null;
        }
        Span<byte> key = stackalloc byte[KeySize];
        try
        {
            return keys.TryGetKey(keyId, key) ? new AesGcm(key, TagSize) : null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }
}

/// <summary>Decrypts the blocks of one read. AesGcm instances are not thread-safe, so each read has its own; it keeps
/// the cipher of the last key id seen, which is all a shard written under one key needs.</summary>
internal sealed class BlockDecryptor(IEncryptionKeyProvider? keys) : IDisposable
{
    private byte[] _keyIdBytes = [];
    private string? _keyId;
    private AesGcm? _aes;

    /// <summary>Decrypts <paramref name="block"/> in place; returns the key id and the record section.</summary>
    public string Decrypt(byte[] block, in BlockEntry entry, out int start, out int end)
    {
        if (!BlockCipher.TryGetLayout(block, out start, out end))
        {
            throw new InvalidDataException($"Block at offset {entry.Offset} of segment {entry.SegmentId} is malformed.");
        }
        var keyIdBytes = BlockCipher.KeyIdOf(block);
        if (_aes is null || !keyIdBytes.SequenceEqual(_keyIdBytes))
        {
            _aes?.Dispose();
            _aes = null;
            _keyIdBytes = keyIdBytes.ToArray();
            _keyId = Encoding.UTF8.GetString(keyIdBytes);
            _aes = BlockCipher.TryCreate(keys, _keyId) ?? throw new EncryptionKeyUnavailableException(_keyId);
        }
        try
        {
            BlockCipher.Decrypt(_aes, block, start, end);
        }
        catch (AuthenticationTagMismatchException ex)
        {
            throw new InvalidDataException(
                $"Block at offset {entry.Offset} of segment {entry.SegmentId} failed authentication under key {_keyId} (wrong key or modified data).", ex);
        }
        if (!LogFormat.VerifyRecords(block, start, end, LogFormat.ReadBlockHeader(block).RecordCount))
        {
            throw new InvalidDataException($"Block at offset {entry.Offset} of segment {entry.SegmentId} has malformed records.");
        }
        return _keyId!;
    }

    public void Dispose() => _aes?.Dispose();
}
