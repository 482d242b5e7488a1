using System.Globalization;
using System.Text.Json;

namespace Millrace.Protocol;

/// <summary>
/// Kinesis JSON timestamps: epoch seconds as a JSON number with up to millisecond fractions, e.g.
/// <c>1795359458.766</c> (whole seconds are written without a fraction, as kinesalite does; botocore and the
/// JS SDK read both).
/// </summary>
public static class JsonTimestamps
{
    /// <summary>Writes epoch milliseconds as a JSON number of epoch seconds.</summary>
    public static void WriteEpochSecondsValue(Utf8JsonWriter writer, long epochMilliseconds)
    {
        Span<byte> buffer = stackalloc byte[32];
        writer.WriteRawValue(buffer[..Format(epochMilliseconds, buffer)], skipInputValidation: true);
    }

    /// <summary>Writes a property whose value is epoch milliseconds as epoch seconds.</summary>
    public static void WriteEpochSeconds(Utf8JsonWriter writer, string propertyName, long epochMilliseconds)
    {
        writer.WritePropertyName(propertyName);
        WriteEpochSecondsValue(writer, epochMilliseconds);
    }

    /// <summary>Formats epoch milliseconds as the decimal text of epoch seconds ("1795359458.766", "1795359458.5", "1795359458").</summary>
    public static string FormatEpochSeconds(long epochMilliseconds)
    {
        Span<byte> buffer = stackalloc byte[32];
        var n = Format(epochMilliseconds, buffer);
        return System.Text.Encoding.ASCII.GetString(buffer[..n]);
    }

    /// <summary>Reads a JSON number of epoch seconds (fractions allowed) as epoch milliseconds, flooring sub-millisecond parts.</summary>
    public static bool TryReadEpochMilliseconds(JsonElement value, out long epochMilliseconds)
    {
        epochMilliseconds = 0;
        if (value.ValueKind != JsonValueKind.Number)
        {
            return false;
        }

        if (value.TryGetInt64(out var whole))
        {
            if (whole > long.MaxValue / 1000 || whole < long.MinValue / 1000)
            {
                return false;
            }

            epochMilliseconds = whole * 1000;
            return true;
        }

        if (value.TryGetDecimal(out var seconds))
        {
            var ms = decimal.Floor(seconds * 1000m);
            if (ms > long.MaxValue || ms < long.MinValue)
            {
                return false;
            }

            epochMilliseconds = (long)ms;
            return true;
        }

        if (value.TryGetDouble(out var d) && double.IsFinite(d) && Math.Abs(d) < long.MaxValue / 1000d)
        {
            epochMilliseconds = (long)Math.Floor(d * 1000d);
            return true;
        }

        return false;
    }

    /// <summary>Like <see cref="TryReadEpochMilliseconds"/>, throwing a <c>SerializationException</c> when the value is not a usable number.</summary>
    public static long ReadEpochMilliseconds(JsonElement value) =>
        TryReadEpochMilliseconds(value, out var ms)
            ? ms
            : throw KinesisException.Serialization(value.ValueKind == JsonValueKind.String
                ? "STRING_VALUE can not be converted to milliseconds since epoch"
                : "Unexpected field type");

    private static int Format(long epochMilliseconds, Span<byte> buffer)
    {
        var written = 0;
        var magnitude = (ulong)epochMilliseconds;
        if (epochMilliseconds < 0)
        {
            buffer[written++] = (byte)'-';
            magnitude = (ulong)(-(epochMilliseconds + 1)) + 1;
        }

        (magnitude / 1000).TryFormat(buffer[written..], out var n, default, CultureInfo.InvariantCulture);
        written += n;
        return written + Fraction((long)(magnitude % 1000), buffer[written..]);
    }

    private static int Fraction(long ms, Span<byte> buffer)
    {
        if (ms == 0)
        {
            return 0;
        }

        buffer[0] = (byte)'.';
        buffer[1] = (byte)('0' + (ms / 100));
        buffer[2] = (byte)('0' + (ms / 10 % 10));
        buffer[3] = (byte)('0' + (ms % 10));
        var length = 4;
        while (buffer[length - 1] == (byte)'0')
        {
            length--;
        }

        return length;
    }
}
