using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Millrace.Protocol.EventStream;

/// <summary>The value types of event-stream headers (the byte that follows a header's name).</summary>
public enum EventStreamHeaderType : byte
{
    BoolTrue = 0,
    BoolFalse = 1,
    Byte = 2,
    Short = 3,
    Int = 4,
    Long = 5,
    Bytes = 6,
    String = 7,
    Timestamp = 8,
    Uuid = 9,
}

/// <summary>One header of an event-stream message. <see cref="Value"/> is a bool, sbyte, short, int, long,
/// byte[], string, DateTimeOffset (millisecond precision) or Guid, matching <see cref="Type"/>.</summary>
public readonly record struct EventStreamHeader(string Name, EventStreamHeaderType Type, object Value)
{
    public static EventStreamHeader String(string name, string value) => new(name, EventStreamHeaderType.String, value);

    public override string ToString() => $"{Name}={Value}";
}

/// <summary>A decoded event-stream message.</summary>
public sealed record EventStreamMessage(IReadOnlyList<EventStreamHeader> Headers, ReadOnlyMemory<byte> Payload)
{
    public string? GetString(string name)
    {
        foreach (var h in Headers)
        {
            if (h.Name == name && h.Value is string s)
            {
                return s;
            }
        }

        return null;
    }
}

/// <summary>Thrown for frames that are corrupt: a CRC mismatch, impossible lengths or malformed headers.</summary>
public sealed class EventStreamFormatException(string message) : Exception(message);

/// <summary>
/// The <c>application/vnd.amazon.eventstream</c> framing: prelude (total length, headers length, CRC32 of those
/// 8 bytes; all big-endian), headers, payload, then the CRC32 of everything before it. CRC32 is IEEE (zlib).
/// </summary>
public static class EventStreamCodec
{
    public const string ContentType = "application/vnd.amazon.eventstream";
    public const int PreludeLength = 12;
    public const int MinimumMessageLength = PreludeLength + 4;

    /// <summary>AWS's cap on one message (16 MiB), enforced by the decoder.</summary>
    public const int MaxMessageLength = 16 * 1024 * 1024;

    /// <summary>The encoded size of <paramref name="headers"/>.</summary>
    public static int HeadersLength(ReadOnlySpan<EventStreamHeader> headers)
    {
        int length = 0;
        foreach (var h in headers)
        {
            length += 1 + Encoding.UTF8.GetByteCount(h.Name) + 1 + h.Type switch
            {
                EventStreamHeaderType.BoolTrue or EventStreamHeaderType.BoolFalse => 0,
                EventStreamHeaderType.Byte => 1,
                EventStreamHeaderType.Short => 2,
                EventStreamHeaderType.Int => 4,
                EventStreamHeaderType.Long or EventStreamHeaderType.Timestamp => 8,
                EventStreamHeaderType.Bytes => 2 + ((byte[])h.Value).Length,
                EventStreamHeaderType.String => 2 + Encoding.UTF8.GetByteCount((string)h.Value),
                EventStreamHeaderType.Uuid => 16,
                _ => throw new ArgumentException($"Unknown header type {h.Type}"),
            };
        }

        return length;
    }

    /// <summary>Writes one whole message into <paramref name="output"/> (one contiguous span, so a pooled writer
    /// or a PipeWriter takes it without copies).</summary>
    public static int Write(IBufferWriter<byte> output, ReadOnlySpan<EventStreamHeader> headers, ReadOnlySpan<byte> payload)
    {
        int headersLength = HeadersLength(headers);
        int total = PreludeLength + headersLength + payload.Length + 4;
        var span = output.GetSpan(total)[..total];
        BinaryPrimitives.WriteInt32BigEndian(span, total);
        BinaryPrimitives.WriteInt32BigEndian(span[4..], headersLength);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], Crc32.Compute(span[..8]));
        int at = PreludeLength;
        foreach (var h in headers)
        {
            at += WriteHeader(span[at..], h);
        }

        payload.CopyTo(span[at..]);
        at += payload.Length;
        BinaryPrimitives.WriteUInt32BigEndian(span[at..], Crc32.Compute(span[..at]));
        output.Advance(total);
        return total;
    }

    /// <summary>Encodes one message into a new array (tests, clients).</summary>
    public static byte[] Encode(ReadOnlySpan<EventStreamHeader> headers, ReadOnlySpan<byte> payload)
    {
        var buffer = new ArrayBufferWriter<byte>();
        Write(buffer, headers, payload);
        return buffer.WrittenSpan.ToArray();
    }

    private static int WriteHeader(Span<byte> span, EventStreamHeader h)
    {
        int nameLength = Encoding.UTF8.GetBytes(h.Name, span[1..]);
        if (nameLength > byte.MaxValue)
        {
            throw new ArgumentException($"Header name {h.Name} is longer than 255 bytes.");
        }

        span[0] = (byte)nameLength;
        int at = 1 + nameLength;
        span[at++] = (byte)h.Type;
        var v = span[at..];
        switch (h.Type)
        {
            case EventStreamHeaderType.BoolTrue or EventStreamHeaderType.BoolFalse:
                return at;
            case EventStreamHeaderType.Byte:
                v[0] = (byte)(sbyte)h.Value;
                return at + 1;
            case EventStreamHeaderType.Short:
                BinaryPrimitives.WriteInt16BigEndian(v, (short)h.Value);
                return at + 2;
            case EventStreamHeaderType.Int:
                BinaryPrimitives.WriteInt32BigEndian(v, (int)h.Value);
                return at + 4;
            case EventStreamHeaderType.Long:
                BinaryPrimitives.WriteInt64BigEndian(v, (long)h.Value);
                return at + 8;
            case EventStreamHeaderType.Timestamp:
                BinaryPrimitives.WriteInt64BigEndian(v, ((DateTimeOffset)h.Value).ToUnixTimeMilliseconds());
                return at + 8;
            case EventStreamHeaderType.Bytes:
                var bytes = (byte[])h.Value;
                CheckValueLength(h.Name, bytes.Length);
                BinaryPrimitives.WriteUInt16BigEndian(v, (ushort)bytes.Length);
                bytes.CopyTo(v[2..]);
                return at + 2 + bytes.Length;
            case EventStreamHeaderType.String:
                int n = Encoding.UTF8.GetBytes((string)h.Value, v[2..]);
                CheckValueLength(h.Name, n);
                BinaryPrimitives.WriteUInt16BigEndian(v, (ushort)n);
                return at + 2 + n;
            case EventStreamHeaderType.Uuid:
                ((Guid)h.Value).TryWriteBytes(v, bigEndian: true, out _);
                return at + 16;
            default:
                throw new ArgumentException($"Unknown header type {h.Type}");
        }
    }

    private static void CheckValueLength(string name, int length)
    {
        if (length > short.MaxValue)
        {
            throw new ArgumentException($"Header {name}'s value is longer than 32767 bytes.");
        }
    }

    /// <summary>
    /// Decodes the first message of <paramref name="buffer"/>. False when more bytes are needed (consumed = 0);
    /// throws <see cref="EventStreamFormatException"/> for corrupt frames.
    /// </summary>
    public static bool TryDecode(ReadOnlySpan<byte> buffer, out EventStreamMessage? message, out int consumed)
    {
        message = null;
        consumed = 0;
        if (buffer.Length < PreludeLength)
        {
            return false;
        }

        int total = BinaryPrimitives.ReadInt32BigEndian(buffer);
        int headersLength = BinaryPrimitives.ReadInt32BigEndian(buffer[4..]);
        uint preludeCrc = BinaryPrimitives.ReadUInt32BigEndian(buffer[8..]);
        if (Crc32.Compute(buffer[..8]) != preludeCrc)
        {
            throw new EventStreamFormatException("Prelude checksum mismatch.");
        }

        if (total < MinimumMessageLength || total > MaxMessageLength || headersLength < 0 || headersLength > total - MinimumMessageLength)
        {
            throw new EventStreamFormatException($"Impossible lengths in the prelude: total {total}, headers {headersLength}.");
        }

        if (buffer.Length < total)
        {
            return false;
        }

        uint messageCrc = BinaryPrimitives.ReadUInt32BigEndian(buffer[(total - 4)..]);
        if (Crc32.Compute(buffer[..(total - 4)]) != messageCrc)
        {
            throw new EventStreamFormatException("Message checksum mismatch.");
        }

        var headers = new List<EventStreamHeader>();
        var h = buffer.Slice(PreludeLength, headersLength);
        while (!h.IsEmpty)
        {
            headers.Add(ReadHeader(ref h));
        }

        int payloadStart = PreludeLength + headersLength;
        message = new EventStreamMessage(headers, buffer[payloadStart..(total - 4)].ToArray());
        consumed = total;
        return true;
    }

    private static EventStreamHeader ReadHeader(ref ReadOnlySpan<byte> h)
    {
        int nameLength = h[0];
        if (nameLength == 0 || h.Length < 2 + nameLength)
        {
            throw new EventStreamFormatException("Truncated header name.");
        }

        var name = Encoding.UTF8.GetString(h.Slice(1, nameLength));
        var type = (EventStreamHeaderType)h[1 + nameLength];
        var v = h[(2 + nameLength)..];
        (object value, int length) = type switch
        {
            EventStreamHeaderType.BoolTrue => (true, 0),
            EventStreamHeaderType.BoolFalse => (false, 0),
            EventStreamHeaderType.Byte => Need(v, 1) ? ((object)(sbyte)v[0], 1) : default,
            EventStreamHeaderType.Short => Need(v, 2) ? (BinaryPrimitives.ReadInt16BigEndian(v), 2) : default,
            EventStreamHeaderType.Int => Need(v, 4) ? (BinaryPrimitives.ReadInt32BigEndian(v), 4) : default,
            EventStreamHeaderType.Long => Need(v, 8) ? (BinaryPrimitives.ReadInt64BigEndian(v), 8) : default,
            EventStreamHeaderType.Timestamp => Need(v, 8) ? (DateTimeOffset.FromUnixTimeMilliseconds(BinaryPrimitives.ReadInt64BigEndian(v)), 8) : default,
            EventStreamHeaderType.Bytes => Need(v, 2) && Need(v, 2 + BinaryPrimitives.ReadUInt16BigEndian(v))
                ? (v.Slice(2, BinaryPrimitives.ReadUInt16BigEndian(v)).ToArray(), 2 + BinaryPrimitives.ReadUInt16BigEndian(v)) : default,
            EventStreamHeaderType.String => Need(v, 2) && Need(v, 2 + BinaryPrimitives.ReadUInt16BigEndian(v))
                ? (Encoding.UTF8.GetString(v.Slice(2, BinaryPrimitives.ReadUInt16BigEndian(v))), 2 + BinaryPrimitives.ReadUInt16BigEndian(v)) : default,
            EventStreamHeaderType.Uuid => Need(v, 16) ? (new Guid(v[..16], bigEndian: true), 16) : default,
            _ => throw new EventStreamFormatException($"Unknown header value type {(byte)type}."),
        };
        h = v[length..];
        return new EventStreamHeader(name, type, value);
    }

    private static bool Need(ReadOnlySpan<byte> v, int length) =>
        v.Length >= length ? true : throw new EventStreamFormatException("Truncated header value.");
}

/// <summary>CRC-32 (IEEE 802.3 / zlib polynomial 0xEDB88320, reflected), table-driven.</summary>
public static class Crc32
{
    private static readonly uint[] Table = BuildTable();

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues a CRC: <c>Append(Compute(a), b) == Compute(a + b)</c>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        foreach (var b in data)
        {
            crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
        }

        return ~crc;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint i = 0; i < 256; i++)
        {
            uint c = i;
            for (int k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }

            table[i] = c;
        }

        return table;
    }
}
