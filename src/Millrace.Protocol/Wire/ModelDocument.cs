using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Protocol.Models;

namespace Millrace.Protocol.Wire;

/// <summary>
/// The transport-neutral document every codec reads into and writes from: a <see cref="JsonObject"/> per structure
/// (and map), a <see cref="JsonArray"/> per list, and <see cref="JsonValue"/> scalars. Parsed requests hold strings,
/// <c>long</c> integers, <c>double</c> floats, <c>bool</c>, <c>byte[]</c> blobs and <see cref="DateTimeOffset"/>
/// timestamps, whatever the protocol. Handlers may answer with any of these (or ints, base64 strings for blobs,
/// epoch-second numbers or ISO strings for timestamps); the codecs convert by the output shape.
/// </summary>
public static class ModelDocument
{
    public static JsonValue Blob(byte[] bytes) => JsonValue.Create(bytes)!;

    public static JsonValue Timestamp(DateTimeOffset time) => JsonValue.Create(time);

    public static string? GetString(JsonNode? node)
    {
        if (node is not JsonValue value)
        {
            return null;
        }

        if (value.TryGetValue<string>(out var s))
        {
            return s;
        }

        return value.GetValueKind() switch
        {
            JsonValueKind.Number => value.ToJsonString(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => value.ToJsonString(),
        };
    }

    public static bool? GetBoolean(JsonNode? node)
    {
        if (node is not JsonValue value)
        {
            return null;
        }

        if (value.TryGetValue<bool>(out var b))
        {
            return b;
        }

        var s = GetString(value);
        return s is null ? null : s.Equals("true", StringComparison.OrdinalIgnoreCase);
    }

    public static long? GetInt64(JsonNode? node)
    {
        if (node is not JsonValue value)
        {
            return null;
        }

        if (value.TryGetValue<long>(out var l))
        {
            return l;
        }

        if (value.TryGetValue<int>(out var i))
        {
            return i;
        }

        var d = GetDouble(value);
        return d is null ? null : (long)Math.Floor(d.Value);
    }

    public static double? GetDouble(JsonNode? node)
    {
        if (node is not JsonValue value)
        {
            return null;
        }

        if (value.TryGetValue<double>(out var d))
        {
            return d;
        }

        if (value.TryGetValue<long>(out var l))
        {
            return l;
        }

        if (value.TryGetValue<int>(out var i))
        {
            return i;
        }

        if (value.TryGetValue<float>(out var f))
        {
            return f;
        }

        if (value.TryGetValue<decimal>(out var m))
        {
            return (double)m;
        }

        if (value.TryGetValue<string>(out var s))
        {
            return double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
        }

        return double.TryParse(value.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var text) ? text : null;
    }

    /// <summary>A blob: <c>byte[]</c> as parsed, or a base64 string.</summary>
    public static byte[]? GetBytes(JsonNode? node)
    {
        if (node is not JsonValue value)
        {
            return null;
        }

        if (value.TryGetValue<byte[]>(out var bytes))
        {
            return bytes;
        }

        if (value.TryGetValue<ReadOnlyMemory<byte>>(out var memory))
        {
            return memory.ToArray();
        }

        if (value.TryGetValue<string>(out var s))
        {
            try
            {
                return Convert.FromBase64String(s);
            }
            catch (FormatException)
            {
                return Encoding.UTF8.GetBytes(s);
            }
        }

        return null;
    }

    /// <summary>A timestamp: <see cref="DateTimeOffset"/> as parsed, a <see cref="DateTime"/>, epoch seconds, or a date string.</summary>
    public static DateTimeOffset? GetTimestamp(JsonNode? node)
    {
        if (node is not JsonValue value)
        {
            return null;
        }

        if (value.TryGetValue<DateTimeOffset>(out var time))
        {
            return time;
        }

        if (value.TryGetValue<DateTime>(out var dt))
        {
            return new DateTimeOffset(dt.Kind == DateTimeKind.Unspecified ? DateTime.SpecifyKind(dt, DateTimeKind.Utc) : dt);
        }

        if (value.GetValueKind() == JsonValueKind.Number)
        {
            return Timestamps.FromEpochSeconds(GetDouble(value)!.Value);
        }

        return value.TryGetValue<string>(out var s) ? Timestamps.Parse(s, null) : null;
    }

    /// <summary>Converts a scalar to the .NET type the parsed document uses for the shape (text from headers, query, XML).</summary>
    internal static JsonNode ScalarFromText(ShapeModel shape, string text, string? timestampFormat, string defaultTimestampFormat)
    {
        switch (shape.Type)
        {
            case ShapeType.String:
                return JsonValue.Create(text);
            case ShapeType.Boolean:
                return text.Trim().ToLowerInvariant() switch
                {
                    "true" => JsonValue.Create(true),
                    "false" => JsonValue.Create(false),
                    _ => throw ServiceException.Serialization($"'{text}' can not be converted to a Boolean"),
                };
            case ShapeType.Integer:
            case ShapeType.Long:
                if (long.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var l))
                {
                    return JsonValue.Create(l);
                }

                throw ServiceException.Serialization($"'{text}' can not be converted to an {(shape.Type == ShapeType.Integer ? "Integer" : "Long")}");
            case ShapeType.Float:
            case ShapeType.Double:
                if (Timestamps.TryParseDouble(text.Trim(), out var d))
                {
                    return JsonValue.Create(d);
                }

                throw ServiceException.Serialization($"'{text}' can not be converted to a Double");
            case ShapeType.Blob:
                try
                {
                    return JsonValue.Create(Convert.FromBase64String(text.Trim()))!;
                }
                catch (FormatException)
                {
                    throw ServiceException.Serialization($"'{text}' can not be converted to a Blob");
                }

            case ShapeType.Timestamp:
                return JsonValue.Create(Timestamps.Parse(text, timestampFormat ?? shape.TimestampFormat ?? defaultTimestampFormat)
                    ?? throw ServiceException.Serialization($"'{text}' can not be converted to a Timestamp"));
            default:
                return JsonValue.Create(text);
        }
    }

    /// <summary>A scalar as text for headers, query strings, form bodies and XML.</summary>
    internal static string ScalarToText(ShapeModel shape, JsonNode node, string? timestampFormat, string defaultTimestampFormat) => shape.Type switch
    {
        ShapeType.Boolean => GetBoolean(node) == true ? "true" : "false",
        ShapeType.Integer or ShapeType.Long => (GetInt64(node) ?? 0).ToString(CultureInfo.InvariantCulture),
        ShapeType.Float or ShapeType.Double => Timestamps.FormatDouble(GetDouble(node) ?? 0),
        ShapeType.Blob => Convert.ToBase64String(GetBytes(node) ?? []),
        ShapeType.Timestamp => Timestamps.Format(GetTimestamp(node) ?? DateTimeOffset.UnixEpoch, timestampFormat ?? shape.TimestampFormat ?? defaultTimestampFormat),
        _ => GetString(node) ?? "",
    };
}

/// <summary>The three timestamp formats of the AWS protocols.</summary>
public static class Timestamps
{
    public const string Iso8601 = "iso8601";
    public const string EpochSeconds = "unixTimestamp";
    public const string Rfc822 = "rfc822";

    public static DateTimeOffset FromEpochSeconds(double seconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds((long)Math.Floor(seconds * 1000 + 0.0000001));

    public static double ToEpochSeconds(DateTimeOffset time) => time.ToUnixTimeMilliseconds() / 1000.0;

    public static string Format(DateTimeOffset time, string format) => format switch
    {
        Rfc822 => time.UtcDateTime.ToString("ddd, dd MMM yyyy HH:mm:ss 'GMT'", CultureInfo.InvariantCulture),
        EpochSeconds => FormatDouble(ToEpochSeconds(time)),
        _ => time.UtcDateTime.Millisecond == 0
            ? time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture)
            : time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
    };

    /// <summary>Parses any of the formats (the preferred one first); null when the text is none of them.</summary>
    public static DateTimeOffset? Parse(string text, string? format)
    {
        text = text.Trim();
        var numeric = text.Length > 0 && !text.Contains(':', StringComparison.Ordinal) && text.IndexOf('-', 1) < 0;
        if ((format == EpochSeconds || numeric) && TryParseDouble(text, out var seconds))
        {
            return FromEpochSeconds(seconds);
        }

        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            return time;
        }

        return TryParseDouble(text, out var s) ? FromEpochSeconds(s) : null;
    }

    internal static bool TryParseDouble(string text, out double value)
    {
        switch (text)
        {
            case "NaN":
                value = double.NaN;
                return true;
            case "Infinity":
                value = double.PositiveInfinity;
                return true;
            case "-Infinity":
                value = double.NegativeInfinity;
                return true;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out value);
    }

    internal static string FormatDouble(double value) =>
        double.IsNaN(value) ? "NaN"
        : double.IsPositiveInfinity(value) ? "Infinity"
        : double.IsNegativeInfinity(value) ? "-Infinity"
        : value.ToString("R", CultureInfo.InvariantCulture);
}
