using System.Buffers;
using System.Buffers.Binary;
using System.Buffers.Text;

namespace Millrace.Protocol;

/// <summary>
/// The few CBOR items a Kinesis response needs, written straight into a pooled buffer. <c>CborWriter</c> would
/// build the whole body in its own unpooled array and transcode every string through UTF-16; GetRecords bodies reach
/// 10 MiB, so responses are encoded here (requests are still read with <c>CborReader</c>).
/// </summary>
internal static class CborOutput
{
    public const byte MajorUnsigned = 0;
    public const byte MajorNegative = 1;
    public const byte MajorBytes = 2;
    public const byte MajorText = 3;
    public const byte MajorTag = 6;

    public const byte StartIndefiniteArray = 0x9F;
    public const byte StartIndefiniteMap = 0xBF;
    public const byte False = 0xF4;
    public const byte True = 0xF5;
    public const byte Null = 0xF6;
    public const byte Double = 0xFB;
    public const byte Break = 0xFF;

    public static void WriteByte(IBufferWriter<byte> output, byte value)
    {
        output.GetSpan(1)[0] = value;
        output.Advance(1);
    }

    /// <summary>A major type with its argument in the shortest form (RFC 8949 preferred serialization).</summary>
    public static void WriteHead(IBufferWriter<byte> output, byte major, ulong value)
    {
        var span = output.GetSpan(9);
        var type = (byte)(major << 5);
        if (value < 24)
        {
            span[0] = (byte)(type | value);
            output.Advance(1);
        }
        else if (value <= byte.MaxValue)
        {
            span[0] = (byte)(type | 24);
            span[1] = (byte)value;
            output.Advance(2);
        }
        else if (value <= ushort.MaxValue)
        {
            span[0] = (byte)(type | 25);
            BinaryPrimitives.WriteUInt16BigEndian(span[1..], (ushort)value);
            output.Advance(3);
        }
        else if (value <= uint.MaxValue)
        {
            span[0] = (byte)(type | 26);
            BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)value);
            output.Advance(5);
        }
        else
        {
            span[0] = (byte)(type | 27);
            BinaryPrimitives.WriteUInt64BigEndian(span[1..], value);
            output.Advance(9);
        }
    }

    public static void WriteInteger(IBufferWriter<byte> output, long value)
    {
        if (value >= 0)
        {
            WriteHead(output, MajorUnsigned, (ulong)value);
        }
        else
        {
            WriteHead(output, MajorNegative, (ulong)(-1 - value));
        }
    }

    /// <summary>Always the 8-byte form, as Jackson's <c>writeNumber(double)</c> writes it.</summary>
    public static void WriteDouble(IBufferWriter<byte> output, double value)
    {
        var span = output.GetSpan(9);
        span[0] = Double;
        BinaryPrimitives.WriteDoubleBigEndian(span[1..], value);
        output.Advance(9);
    }

    /// <summary>A definite-length text string from UTF-8 that is already valid (it came out of a JSON document).</summary>
    public static void WriteText(IBufferWriter<byte> output, ReadOnlySpan<byte> utf8)
    {
        WriteHead(output, MajorText, (ulong)utf8.Length);
        utf8.CopyTo(output.GetSpan(utf8.Length));
        output.Advance(utf8.Length);
    }

    /// <summary>Decodes base64 text straight into a definite-length byte string.</summary>
    public static void WriteBase64AsBytes(IBufferWriter<byte> output, ReadOnlySpan<byte> base64)
    {
        if (base64.Length % 4 != 0)
        {
            throw new InvalidOperationException("A response blob is not valid base64.");
        }

        var padding = base64.Length == 0 ? 0 : base64[^1] != '=' ? 0 : base64[^2] != '=' ? 1 : 2;
        var length = (base64.Length / 4 * 3) - padding;
        WriteHead(output, MajorBytes, (ulong)length);
        var status = Base64.DecodeFromUtf8(base64, output.GetSpan(Math.Max(length, 1)), out _, out var written);
        if (status != OperationStatus.Done || written != length)
        {
            throw new InvalidOperationException("A response blob is not valid base64.");
        }

        output.Advance(length);
    }
}
