using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Millrace.Firehose.Formats;

/// <summary>How JSON input is read (Firehose's InputFormatConfiguration.Deserializer).</summary>
public abstract record JsonDeserializer;

/// <summary>
/// The OpenX JSON SerDe: keys match columns case-insensitively by default, dots in keys may become underscores, and
/// a column may read a differently named key. Timestamps: ISO 8601 with 'T' and 'Z', <c>yyyy-[M]M-[d]d HH:mm:ss[.S]</c>,
/// epoch seconds, epoch milliseconds and fractional epoch seconds.
/// </summary>
public sealed record OpenXJsonDeserializer : JsonDeserializer
{
    public bool ConvertDotsInJsonKeysToUnderscores { get; init; }

    public bool CaseInsensitive { get; init; } = true;

    /// <summary>Column name → JSON key (e.g. a column <c>ts</c> reading the key <c>timestamp</c>).</summary>
    public IReadOnlyDictionary<string, string> ColumnToJsonKeyMappings { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// The Apache Hive JSON SerDe: keys match columns case-insensitively; timestamps by <see cref="TimestampFormats"/>
/// (Joda-Time patterns, or <c>millis</c> for epoch milliseconds), else as <c>java.sql.Timestamp.valueOf</c> reads them.
/// </summary>
public sealed record HiveJsonDeserializer : JsonDeserializer
{
    public IReadOnlyList<string> TimestampFormats { get; init; } = [];
}

/// <summary>A record's value does not fit the schema (Firehose's DataFormatConversion.MalformedData).</summary>
internal sealed class MalformedDataException(string message) : Exception(message);

/// <summary>Turns JSON objects into rows of CLR values for the table's columns, with Hive's coercions.</summary>
internal sealed class RowReader
{
    private readonly IReadOnlyList<(string Column, string Key, HiveType Type)> _columns;
    private readonly bool _caseInsensitive;
    private readonly bool _dotsToUnderscores;
    private readonly bool _openX;
    private readonly string[] _timestampFormats;
    private readonly bool _millis;

    public RowReader(IReadOnlyList<(string Column, HiveType Type)> columns, JsonDeserializer deserializer)
    {
        switch (deserializer)
        {
            case OpenXJsonDeserializer openX:
                _openX = true;
                _caseInsensitive = openX.CaseInsensitive;
                _dotsToUnderscores = openX.ConvertDotsInJsonKeysToUnderscores;
                var mappings = openX.ColumnToJsonKeyMappings.ToDictionary(m => m.Key.ToLowerInvariant(), m => m.Value, StringComparer.Ordinal);
                _columns = columns.Select(c => (c.Column, Normalize(mappings.GetValueOrDefault(c.Column) ?? c.Column), c.Type)).ToList();
                _timestampFormats = [];
                break;
            case HiveJsonDeserializer hive:
                _caseInsensitive = true;
                _millis = hive.TimestampFormats.Any(f => f == "millis");
                _timestampFormats = hive.TimestampFormats.Where(f => f != "millis").Select(JodaToDotNet).ToArray();
                _columns = columns.Select(c => (c.Column, Normalize(c.Column), c.Type)).ToList();
                break;
            default:
                throw new ArgumentException("unknown deserializer", nameof(deserializer));
        }
    }

    /// <summary>The row of one top-level JSON object: column name → value (null for a missing key or JSON null).</summary>
    public Dictionary<string, object?> Read(JsonElement record)
    {
        if (record.ValueKind != JsonValueKind.Object)
        {
            throw new MalformedDataException($"Data does not match the schema. Data is not a JSON object but {Describe(record)}.");
        }

        var keys = KeysOf(record);
        var row = new Dictionary<string, object?>(_columns.Count, StringComparer.Ordinal);
        foreach (var (column, key, type) in _columns)
        {
            row[column] = keys.TryGetValue(key, out var value) ? Convert(value, type, column) : null;
        }

        return row;
    }

    private Dictionary<string, JsonElement> KeysOf(JsonElement obj)
    {
        // The last of duplicate keys wins, as the SerDes' JSON parsers keep it.
        var keys = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var property in obj.EnumerateObject())
        {
            keys[Normalize(property.Name)] = property.Value;
        }

        return keys;
    }

    private string Normalize(string key)
    {
        if (_dotsToUnderscores)
        {
            key = key.Replace('.', '_');
        }

        return _caseInsensitive ? key.ToLowerInvariant() : key;
    }

    private object? Convert(JsonElement value, HiveType type, string path)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        try
        {
            return type.Kind switch
            {
                HiveKind.String => Text(value),
                HiveKind.Varchar => Truncate(Text(value), type.Length),
                HiveKind.Char => Truncate(Text(value), type.Length).TrimEnd(' '),
                HiveKind.Boolean => Boolean(value),
                HiveKind.TinyInt => checked((sbyte)Integer(value)),
                HiveKind.SmallInt => checked((short)Integer(value)),
                HiveKind.Int => checked((int)Integer(value)),
                HiveKind.BigInt => Integer(value),
                HiveKind.Float => (float)Floating(value),
                HiveKind.Double => Floating(value),
                HiveKind.Decimal => Decimal(value, type),
                HiveKind.Date => Date(value),
                HiveKind.Timestamp => Timestamp(value),
                HiveKind.Binary => Encoding.UTF8.GetBytes(Text(value)),
                HiveKind.Array => Array(value, type, path),
                HiveKind.Map => Map(value, type, path),
                HiveKind.Struct => Struct(value, type, path),
                _ => throw new MalformedDataException($"Data does not match the schema. Unsupported type for {path}."),
            };
        }
        catch (OverflowException)
        {
            throw new MalformedDataException($"Data does not match the schema. Value {value.GetRawText()} of {path} is out of range.");
        }
        catch (FormatException)
        {
            throw new MalformedDataException($"Data does not match the schema. For input string: {value.GetRawText()} of {path}.");
        }
    }

    /// <summary>A string column takes any JSON value: scalars as their text, objects and arrays as their JSON (OpenX).</summary>
    private static string Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString()!,
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => value.GetRawText(),
    };

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length];

    private static bool Boolean(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String when bool.TryParse(value.GetString(), out var b) => b,
        _ => throw new FormatException(),
    };

    /// <summary>Integers from JSON numbers or numeric strings; a fraction is cut toward zero as Hive's casts do.</summary>
    private static long Integer(JsonElement value)
    {
        var text = value.ValueKind switch
        {
            JsonValueKind.Number => value.GetRawText(),
            JsonValueKind.String => value.GetString()!.Trim(),
            _ => throw new FormatException(),
        };
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return l;
        }

        var d = decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return checked((long)decimal.Truncate(d));
    }

    private static double Floating(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Number => value.GetDouble(),
        JsonValueKind.String => double.Parse(value.GetString()!.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture),
        _ => throw new FormatException(),
    };

    /// <summary>Rounded half-up to the scale; a value with more integer digits than the precision allows is null (Hive).</summary>
    private static decimal? Decimal(JsonElement value, HiveType type)
    {
        var text = value.ValueKind switch
        {
            JsonValueKind.Number => value.GetRawText(),
            JsonValueKind.String => value.GetString()!.Trim(),
            _ => throw new FormatException(),
        };
        var d = Math.Round(decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture), type.Scale, MidpointRounding.AwayFromZero);
        var integerDigits = decimal.Truncate(Math.Abs(d)) is var whole && whole == 0 ? 0 : whole.ToString(CultureInfo.InvariantCulture).Length;
        return integerDigits > type.Precision - type.Scale ? null : d;
    }

    private static DateOnly Date(JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Number)
        {
            return DateOnly.FromDayNumber(DateOnly.FromDateTime(DateTime.UnixEpoch).DayNumber + value.GetInt32());
        }

        var text = value.ValueKind == JsonValueKind.String ? value.GetString()!.Trim() : throw new FormatException();

        // Hive reads the date part of a longer string (e.g. a timestamp) too.
        if (text.Length > 10 && text[10] is 'T' or ' ')
        {
            text = text[..10];
        }

        return DateOnly.ParseExact(text, ["yyyy-M-d", "yyyy-MM-dd"], CultureInfo.InvariantCulture, DateTimeStyles.None);
    }

    private DateTime Timestamp(JsonElement value)
    {
        if (_openX)
        {
            return value.ValueKind switch
            {
                JsonValueKind.Number => Epoch(value.GetRawText()),
                JsonValueKind.String when IsNumber(value.GetString()!) => Epoch(value.GetString()!),
                JsonValueKind.String => IsoOrValueOf(value.GetString()!),
                _ => throw new FormatException(),
            };
        }

        if (_millis && (value.ValueKind == JsonValueKind.Number || (value.ValueKind == JsonValueKind.String && IsNumber(value.GetString()!))))
        {
            var ms = long.Parse(value.ValueKind == JsonValueKind.Number ? value.GetRawText() : value.GetString()!, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            return DateTime.UnixEpoch.AddMilliseconds(ms);
        }

        var text = value.ValueKind == JsonValueKind.String ? value.GetString()!.Trim() : throw new FormatException();
        foreach (var format in _timestampFormats)
        {
            if (DateTime.TryParseExact(text, format, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var parsed))
            {
                return DateTime.SpecifyKind(parsed, DateTimeKind.Utc);
            }
        }

        return ValueOf(text) ?? throw new FormatException();
    }

    private static bool IsNumber(string text) =>
        text.Length > 0 && double.TryParse(text, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out _);

    /// <summary>OpenX's epoch numbers: milliseconds when the integer has more than 11 digits, else (fractional) seconds.</summary>
    private static DateTime Epoch(string text)
    {
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole))
        {
            return Math.Abs(whole) >= 100_000_000_000 ? DateTime.UnixEpoch.AddMilliseconds(whole) : DateTime.UnixEpoch.AddSeconds(whole);
        }

        var seconds = decimal.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
        return DateTime.UnixEpoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond));
    }

    private static DateTime IsoOrValueOf(string text)
    {
        text = text.Trim();
        if (text.Contains('T', StringComparison.Ordinal)
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var iso))
        {
            return iso.UtcDateTime;
        }

        return ValueOf(text) ?? throw new FormatException();
    }

    /// <summary>
    /// What <c>java.sql.Timestamp.valueOf</c> accepts: <c>yyyy-[M]M-[d]d [H]H:mm:ss[.f...]</c> with up to nine fraction
    /// digits, read as UTC (ticks keep seven of them).
    /// </summary>
    private static DateTime? ValueOf(string text)
    {
        var space = text.IndexOf(' ', StringComparison.Ordinal);
        if (space < 0)
        {
            return null;
        }

        var fraction = 0L;
        var time = text[(space + 1)..];
        var dot = time.IndexOf('.', StringComparison.Ordinal);
        if (dot >= 0)
        {
            var digits = time[(dot + 1)..];
            if (digits.Length is 0 or > 9 || !digits.All(char.IsAsciiDigit))
            {
                return null;
            }

            fraction = long.Parse(digits.PadRight(9, '0')[..7], CultureInfo.InvariantCulture);
            time = time[..dot];
        }

        return DateTime.TryParseExact(text[..space] + " " + time, ["yyyy-M-d H:m:s", "yyyy-MM-dd HH:mm:ss"], CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var parsed)
            ? DateTime.SpecifyKind(parsed.AddTicks(fraction), DateTimeKind.Utc)
            : null;
    }

    private List<object?> Array(JsonElement value, HiveType type, string path)
    {
        if (value.ValueKind != JsonValueKind.Array)
        {
            throw new MalformedDataException($"Data does not match the schema. {path} is an array<...> but the data is {Describe(value)}.");
        }

        return value.EnumerateArray().Select(item => Convert(item, type.Element!, path + "[]")).ToList();
    }

    private Dictionary<object, object?> Map(JsonElement value, HiveType type, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new MalformedDataException($"Data does not match the schema. {path} is a map<...> but the data is {Describe(value)}.");
        }

        var map = new Dictionary<object, object?>();
        foreach (var property in value.EnumerateObject())
        {
            // Map keys are JSON property names: convert them from their text.
            using var key = JsonDocument.Parse(JsonSerializer.Serialize(property.Name));
            var k = Convert(key.RootElement, type.Key!, path + " key") ?? throw new MalformedDataException($"Data does not match the schema. A null key in {path}.");
            map[k] = Convert(property.Value, type.Value!, path + "[" + property.Name + "]");
        }

        return map;
    }

    private Dictionary<string, object?> Struct(JsonElement value, HiveType type, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw new MalformedDataException($"Data does not match the schema. {path} is a struct<...> but the data is {Describe(value)}.");
        }

        var keys = KeysOf(value);
        var result = new Dictionary<string, object?>(type.Fields.Count, StringComparer.Ordinal);
        foreach (var field in type.Fields)
        {
            result[field.Name] = keys.TryGetValue(Normalize(field.Name), out var v) ? Convert(v, field.Type, path + "." + field.Name) : null;
        }

        return result;
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Array => "a JSON array",
        JsonValueKind.String => $"a string with value {value.GetRawText()}",
        JsonValueKind.Number => $"a number with value {value.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => $"a boolean with value {value.GetRawText()}",
        _ => value.ValueKind.ToString().ToLowerInvariant(),
    };

    /// <summary>A Joda-Time pattern as a .NET custom format (the letters the two share mean the same; S→f, Z→zzz, a→tt).</summary>
    internal static string JodaToDotNet(string joda)
    {
        var result = new StringBuilder();
        for (var i = 0; i < joda.Length; i++)
        {
            var c = joda[i];
            if (c == '\'')
            {
                var close = joda.IndexOf('\'', i + 1);
                var literal = close < 0 ? joda[(i + 1)..] : joda[(i + 1)..close];
                result.Append(literal.Length == 0 ? "\\'" : "'" + literal + "'");
                i = close < 0 ? joda.Length : close;
                continue;
            }

            var run = 1;
            while (i + run < joda.Length && joda[i + run] == c)
            {
                run++;
            }

            result.Append(c switch
            {
                'S' => new string('f', Math.Min(run, 7)),
                'Z' => "zzz",
                'a' => "tt",
                'E' => run >= 4 ? "dddd" : "ddd",
                'y' or 'M' or 'd' or 'H' or 'h' or 'm' or 's' => new string(c, run),
                _ when char.IsAsciiLetter(c) => throw new FormatConversionException("DataFormatConversion.InvalidSchema",
                    $"The timestamp format '{joda}' uses the pattern letter '{c}', which is not supported."),
                _ => string.Concat(Enumerable.Repeat("\\" + c, run)),
            });
            i += run - 1;
        }

        return result.ToString();
    }
}
