using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Millrace.Kinesis;

/// <summary>What a shard iterator points at.</summary>
public readonly record struct ShardIteratorState(string StreamName, long StreamId, int ShardIndex, ulong Position, long IssuedAtMs);

/// <summary>
/// Opaque, tamper-evident tokens handed to clients (shard iterators, paging tokens): a versioned binary payload
/// followed by a truncated HMAC-SHA256 under a per-data-directory secret, base64-encoded. The secret lives in the
/// data directory, so iterators stay valid across a restart of the same server.
/// </summary>
public sealed class OpaqueTokens
{
    private const byte IteratorVersion = 1;
    private const byte PageTokenVersion = 2;
    private const int MacLength = 16;
    private readonly byte[] _key;

    public OpaqueTokens(byte[] key)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(key.Length, 32);
        _key = key;
    }

    /// <summary>Loads the secret from <paramref name="path"/>, creating it (32 random bytes) on first use.</summary>
    public static OpaqueTokens LoadOrCreate(string path)
    {
        if (File.Exists(path))
        {
            var existing = File.ReadAllBytes(path);
            if (existing.Length >= 32)
            {
                return new OpaqueTokens(existing);
            }
        }

        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        var key = RandomNumberGenerator.GetBytes(32);
        var tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            fs.Write(key);
            fs.Flush(flushToDisk: true);
        }

        File.Move(tmp, path, overwrite: true);
        return new OpaqueTokens(key);
    }

    public string EncodeIterator(in ShardIteratorState state)
    {
        var name = Encoding.UTF8.GetBytes(state.StreamName);
        Span<byte> buffer = stackalloc byte[1 + 8 + 4 + 8 + 8 + 1 + name.Length + MacLength];
        buffer[0] = IteratorVersion;
        BinaryPrimitives.WriteInt64BigEndian(buffer[1..], state.StreamId);
        BinaryPrimitives.WriteInt32BigEndian(buffer[9..], state.ShardIndex);
        BinaryPrimitives.WriteUInt64BigEndian(buffer[13..], state.Position);
        BinaryPrimitives.WriteInt64BigEndian(buffer[21..], state.IssuedAtMs);
        buffer[29] = (byte)name.Length;
        name.CopyTo(buffer[30..]);
        Sign(buffer);
        return Convert.ToBase64String(buffer);
    }

    public bool TryDecodeIterator(string token, out ShardIteratorState state)
    {
        state = default;
        Span<byte> buffer = stackalloc byte[384];
        if (!Convert.TryFromBase64String(token, buffer, out int length) || length < 30 + MacLength)
        {
            return false;
        }

        var payload = buffer[..length];
        if (payload[0] != IteratorVersion || payload[29] + 30 + MacLength != length || !Verify(payload))
        {
            return false;
        }

        state = new ShardIteratorState(
            Encoding.UTF8.GetString(payload.Slice(30, payload[29])),
            BinaryPrimitives.ReadInt64BigEndian(payload[1..]),
            BinaryPrimitives.ReadInt32BigEndian(payload[9..]),
            BinaryPrimitives.ReadUInt64BigEndian(payload[13..]),
            BinaryPrimitives.ReadInt64BigEndian(payload[21..]));
        return true;
    }

    /// <summary>A paging token: which listing it belongs to (e.g. a stream id, or 0), where to resume, when issued.</summary>
    public string EncodePageToken(long scope, string resumeAfter, long issuedAtMs)
    {
        var resume = Encoding.UTF8.GetBytes(resumeAfter);
        var buffer = new byte[1 + 8 + 8 + 2 + resume.Length + MacLength];
        buffer[0] = PageTokenVersion;
        BinaryPrimitives.WriteInt64BigEndian(buffer.AsSpan(1), scope);
        BinaryPrimitives.WriteInt64BigEndian(buffer.AsSpan(9), issuedAtMs);
        BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(17), (ushort)resume.Length);
        resume.CopyTo(buffer.AsSpan(19));
        Sign(buffer);
        return Convert.ToBase64String(buffer);
    }

    public bool TryDecodePageToken(string token, out long scope, out string resumeAfter, out long issuedAtMs)
    {
        scope = 0;
        resumeAfter = "";
        issuedAtMs = 0;
        byte[] buffer;
        try
        {
            buffer = Convert.FromBase64String(token);
        }
        catch (FormatException)
        {
            return false;
        }

        if (buffer.Length < 19 + MacLength || buffer[0] != PageTokenVersion)
        {
            return false;
        }

        int resumeLength = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(17));
        if (19 + resumeLength + MacLength != buffer.Length || !Verify(buffer))
        {
            return false;
        }

        scope = BinaryPrimitives.ReadInt64BigEndian(buffer.AsSpan(1));
        issuedAtMs = BinaryPrimitives.ReadInt64BigEndian(buffer.AsSpan(9));
        resumeAfter = Encoding.UTF8.GetString(buffer, 19, resumeLength);
        return true;
    }

    private void Sign(Span<byte> buffer)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, buffer[..^MacLength], mac);
        mac[..MacLength].CopyTo(buffer[^MacLength..]);
    }

    private bool Verify(ReadOnlySpan<byte> buffer)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, buffer[..^MacLength], mac);
        return CryptographicOperations.FixedTimeEquals(mac[..MacLength], buffer[^MacLength..]);
    }
}
