using System.Globalization;
using System.Text;

namespace Millrace.Firehose.Prefixes;

/// <summary>
/// The subset of Java's DateTimeFormatter patterns Firehose's <c>!{timestamp:...}</c> accepts, compiled once:
/// letters y u M L d D H h k K m s S a E e Z X x, <c>'quoted text'</c>, <c>''</c> for a quote, other characters literal.
/// Any other ASCII letter (and <c>[ ] { } #</c>) is reserved in Java and rejected.
/// </summary>
internal sealed class JavaTimeFormat
{
    private readonly List<(char Letter, int Count, string? Literal)> _parts = [];

    private JavaTimeFormat()
    {
    }

    public static JavaTimeFormat Parse(string pattern)
    {
        var format = new JavaTimeFormat();
        var i = 0;
        while (i < pattern.Length)
        {
            var c = pattern[i];
            if (c == '\'')
            {
                var end = i + 1;
                var text = new StringBuilder();
                while (true)
                {
                    if (end >= pattern.Length)
                    {
                        throw new PrefixException($"Unterminated quote in timestamp pattern '{pattern}'.");
                    }

                    if (pattern[end] == '\'')
                    {
                        if (end + 1 < pattern.Length && pattern[end + 1] == '\'')
                        {
                            text.Append('\'');
                            end += 2;
                            continue;
                        }

                        break;
                    }

                    text.Append(pattern[end++]);
                }

                format._parts.Add(('\0', 0, end == i + 1 ? "'" : text.ToString()));
                i = end + 1;
                continue;
            }

            if (char.IsAsciiLetter(c))
            {
                var count = 1;
                while (i + count < pattern.Length && pattern[i + count] == c)
                {
                    count++;
                }

                if (!Valid(c, count))
                {
                    throw new PrefixException($"Invalid timestamp pattern '{pattern}': '{new string(c, count)}' is not a supported DateTimeFormatter field.");
                }

                format._parts.Add((c, count, null));
                i += count;
                continue;
            }

            if (c is '[' or ']' or '{' or '}' or '#')
            {
                throw new PrefixException($"Invalid timestamp pattern '{pattern}': '{c}' is reserved.");
            }

            format._parts.Add(('\0', 0, c.ToString()));
            i++;
        }

        return format;
    }

    private static bool Valid(char letter, int count) => letter switch
    {
        'y' or 'u' => count is >= 1 and <= 9,
        'M' or 'L' => count <= 4,
        'd' or 'H' or 'h' or 'k' or 'K' or 'm' or 's' => count <= 2,
        'D' => count <= 3,
        'S' => count <= 9,
        'a' => count == 1,
        'E' => count <= 4,
        'e' => count <= 4,
        'Z' => count <= 5,
        'X' or 'x' => count <= 5,
        _ => false,
    };

    public string Format(DateTimeOffset time)
    {
        var s = new StringBuilder();
        foreach (var (letter, count, literal) in _parts)
        {
            if (literal is not null)
            {
                s.Append(literal);
                continue;
            }

            s.Append(letter switch
            {
                'y' or 'u' => count == 2 ? (time.Year % 100).ToString("00", CultureInfo.InvariantCulture) : Pad(time.Year, count),
                'M' or 'L' => count switch
                {
                    3 => CultureInfo.InvariantCulture.DateTimeFormat.GetAbbreviatedMonthName(time.Month),
                    4 => CultureInfo.InvariantCulture.DateTimeFormat.GetMonthName(time.Month),
                    _ => Pad(time.Month, count),
                },
                'd' => Pad(time.Day, count),
                'D' => Pad(time.DayOfYear, count),
                'H' => Pad(time.Hour, count),
                'k' => Pad(time.Hour == 0 ? 24 : time.Hour, count),
                'h' => Pad(time.Hour % 12 == 0 ? 12 : time.Hour % 12, count),
                'K' => Pad(time.Hour % 12, count),
                'm' => Pad(time.Minute, count),
                's' => Pad(time.Second, count),
                'S' => (time.Ticks % TimeSpan.TicksPerSecond).ToString("0000000", CultureInfo.InvariantCulture).PadRight(9, '0')[..count],
                'a' => time.Hour < 12 ? "AM" : "PM",
                'E' => count == 4 ? time.DayOfWeek.ToString() : time.DayOfWeek.ToString()[..3],
                'e' => count <= 2 ? Pad(((int)time.DayOfWeek + 6) % 7 + 1, count) : time.DayOfWeek.ToString()[..(count == 4 ? time.DayOfWeek.ToString().Length : 3)],
                _ => Offset(time.Offset, letter, count),
            });
        }

        return s.ToString();
    }

    private static string Pad(int value, int count) => value.ToString(CultureInfo.InvariantCulture).PadLeft(count, '0');

    private static string Offset(TimeSpan offset, char letter, int count)
    {
        if (offset == TimeSpan.Zero && letter == 'X')
        {
            return "Z";
        }

        var sign = offset < TimeSpan.Zero ? "-" : "+";
        var abs = offset.Duration();
        var hours = abs.Hours.ToString("00", CultureInfo.InvariantCulture);
        var minutes = abs.Minutes.ToString("00", CultureInfo.InvariantCulture);
        return (letter, count) switch
        {
            ('X' or 'x', 1) => sign + hours + (abs.Minutes != 0 ? minutes : ""),
            ('X' or 'x', 2) or ('Z', <= 3) => sign + hours + minutes,
            _ => sign + hours + ":" + minutes,
        };
    }
}
