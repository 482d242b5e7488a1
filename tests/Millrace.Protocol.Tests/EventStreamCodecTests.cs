using System.Text;
using Millrace.Protocol.EventStream;

namespace Millrace.Protocol.Tests;

public class EventStreamCodecTests
{
    // zlib.crc32 of the same bytes (python3), so the table implementation is checked against an independent one.
    private const string InitialResponseHex =
        "00000068000000564e6817240b3a6576656e742d74797065070010696e697469616c2d726573706f6e73650d3a636f6e74656e742d74797065" +
        "0700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b7dd591c62b";

    private static readonly EventStreamHeader[] InitialResponse =
    [
        EventStreamHeader.String(":event-type", "initial-response"),
        EventStreamHeader.String(":content-type", "application/json"),
        EventStreamHeader.String(":message-type", "event"),
    ];

    [Fact]
    public void Crc32IsIeee()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(Crc32.Compute("123456789"u8), Crc32.Append(Crc32.Compute("1234"u8), "56789"u8));
    }

    [Fact]
    public void EmptyMessageHasTheKnownBytes()
    {
        // The "empty_message" vector of aws-c-event-stream.
        Assert.Equal("000000100000000005c248eb7d98c8ff", Convert.ToHexStringLower(EventStreamCodec.Encode([], [])));
    }

    [Fact]
    public void InitialResponseHasTheExactBytes()
    {
        var bytes = EventStreamCodec.Encode(InitialResponse, "{}"u8);
        Assert.Equal(InitialResponseHex, Convert.ToHexStringLower(bytes));
        Assert.True(EventStreamCodec.TryDecode(bytes, out var message, out var consumed));
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal("initial-response", message!.GetString(":event-type"));
        Assert.Equal("{}", Encoding.UTF8.GetString(message.Payload.Span));
    }

    [Fact]
    public void EveryHeaderTypeRoundTrips()
    {
        var when = DateTimeOffset.FromUnixTimeMilliseconds(1_795_359_458_766);
        var id = Guid.Parse("01234567-89ab-cdef-0123-456789abcdef");
        EventStreamHeader[] headers =
        [
            new("t", EventStreamHeaderType.BoolTrue, true),
            new("f", EventStreamHeaderType.BoolFalse, false),
            new("b", EventStreamHeaderType.Byte, (sbyte)-7),
            new("s", EventStreamHeaderType.Short, (short)-12345),
            new("i", EventStreamHeaderType.Int, int.MinValue),
            new("l", EventStreamHeaderType.Long, long.MaxValue),
            new("bytes", EventStreamHeaderType.Bytes, new byte[] { 0, 1, 2, 255 }),
            new("str", EventStreamHeaderType.String, "héllo"),
            new("ts", EventStreamHeaderType.Timestamp, when),
            new("uuid", EventStreamHeaderType.Uuid, id),
        ];
        var payload = new byte[1000];
        new Random(1).NextBytes(payload);

        var bytes = EventStreamCodec.Encode(headers, payload);
        Assert.True(EventStreamCodec.TryDecode(bytes, out var message, out var consumed));
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(headers.Length, message!.Headers.Count);
        for (int i = 0; i < headers.Length; i++)
        {
            Assert.Equal(headers[i].Name, message.Headers[i].Name);
            Assert.Equal(headers[i].Type, message.Headers[i].Type);
            Assert.Equal(headers[i].Value, message.Headers[i].Value);
        }

        Assert.Equal(payload, message.Payload.ToArray());

        // Exact wire form of a few values: the uuid is big-endian (RFC 4122 byte order), the timestamp is i64 ms.
        var hex = Convert.ToHexStringLower(bytes);
        Assert.Contains("0475756964" + "09" + "0123456789abcdef0123456789abcdef", hex);
        Assert.Contains("027473" + "08" + 1_795_359_458_766L.ToString("x16"), hex);
        Assert.Contains("0162" + "02" + "f9", hex);
        Assert.Contains("0173" + "03" + "cfc7", hex);
    }

    [Fact]
    public void ConsecutiveMessagesDecodeOneByOne()
    {
        var one = EventStreamCodec.Encode(InitialResponse, "{}"u8);
        var two = EventStreamCodec.Encode([EventStreamHeader.String(":message-type", "event")], "{\"a\":1}"u8);
        byte[] both = [.. one, .. two];
        Assert.True(EventStreamCodec.TryDecode(both, out _, out var first));
        Assert.Equal(one.Length, first);
        Assert.True(EventStreamCodec.TryDecode(both.AsSpan(first), out var second, out _));
        Assert.Equal("{\"a\":1}", Encoding.UTF8.GetString(second!.Payload.Span));
    }

    [Fact]
    public void TruncatedFramesNeedMoreBytes()
    {
        var bytes = EventStreamCodec.Encode(InitialResponse, "{}"u8);
        for (int length = 0; length < bytes.Length; length++)
        {
            Assert.False(EventStreamCodec.TryDecode(bytes.AsSpan(0, length), out var message, out var consumed));
            Assert.Null(message);
            Assert.Equal(0, consumed);
        }
    }

    [Fact]
    public void CorruptPreludeCrcIsDetected()
    {
        var bytes = EventStreamCodec.Encode(InitialResponse, "{}"u8);
        bytes[9] ^= 0x01;
        var ex = Assert.Throws<EventStreamFormatException>(() => EventStreamCodec.TryDecode(bytes, out _, out _));
        Assert.Contains("Prelude", ex.Message);
    }

    [Fact]
    public void CorruptLengthIsDetectedByThePreludeCrc()
    {
        var bytes = EventStreamCodec.Encode(InitialResponse, "{}"u8);
        bytes[3] ^= 0x10; // total length
        Assert.Throws<EventStreamFormatException>(() => EventStreamCodec.TryDecode(bytes, out _, out _));
    }

    [Theory]
    [InlineData(20)] // a header byte
    [InlineData(99)] // the payload
    [InlineData(102)] // the message CRC itself
    public void CorruptMessageIsDetected(int offset)
    {
        var bytes = EventStreamCodec.Encode(InitialResponse, "{}"u8);
        bytes[offset] ^= 0x40;
        var ex = Assert.Throws<EventStreamFormatException>(() => EventStreamCodec.TryDecode(bytes, out _, out _));
        Assert.Contains("Message checksum", ex.Message);
    }

    [Fact]
    public void ImpossibleLengthsWithAValidPreludeCrcAreRejected()
    {
        // headers longer than the message, yet a correct prelude CRC: caught by the length check.
        var bytes = EventStreamCodec.Encode([], "{}"u8);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), 100);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), Crc32.Compute(bytes.AsSpan(0, 8)));
        Assert.Throws<EventStreamFormatException>(() => EventStreamCodec.TryDecode(bytes, out _, out _));
    }

    [Fact]
    public void TruncatedHeaderInsideAValidFrameIsRejected()
    {
        // A string header whose declared value length runs past the headers section, with both CRCs valid.
        byte[] headers = [2, (byte)'a', (byte)'b', 7, 0, 50, (byte)'x'];
        var total = 12 + headers.Length + 4;
        var bytes = new byte[total];
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes, total);
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), headers.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(8), Crc32.Compute(bytes.AsSpan(0, 8)));
        headers.CopyTo(bytes, 12);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(total - 4), Crc32.Compute(bytes.AsSpan(0, total - 4)));
        var ex = Assert.Throws<EventStreamFormatException>(() => EventStreamCodec.TryDecode(bytes, out _, out _));
        Assert.Contains("Truncated", ex.Message);
    }
}
