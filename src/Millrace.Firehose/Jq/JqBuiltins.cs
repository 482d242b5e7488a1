using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using static Millrace.Firehose.Jq.JqValues;

namespace Millrace.Firehose.Jq;

/// <summary>jq's arithmetic on values, with its type rules and error wording.</summary>
internal static class JqArithmetic
{
    public static JsonNode? Add(JsonNode? a, JsonNode? b)
    {
        if (a is null)
        {
            return Copy(b);
        }

        if (b is null)
        {
            return Copy(a);
        }

        return (Type(a), Type(b)) switch
        {
            ("number", "number") => Number(Num(a) + Num(b)),
            ("string", "string") => Str(Text(a) + Text(b)),
            ("array", "array") => new JsonArray([.. a.AsArray().Concat(b.AsArray()).Select(Copy)]),
            ("object", "object") => Merge(a.AsObject(), b.AsObject()),
            _ => throw new JqException($"{Describe(a)} and {Describe(b)} cannot be added"),
        };
    }

    private static JsonObject Merge(JsonObject a, JsonObject b)
    {
        var result = a.DeepClone().AsObject();
        foreach (var (k, v) in b)
        {
            result[k] = Copy(v);
        }

        return result;
    }

    public static JsonNode? Subtract(JsonNode? a, JsonNode? b) => (Type(a), Type(b)) switch
    {
        ("number", "number") => Number(Num(a) - Num(b)),
        ("array", "array") => new JsonArray([.. a!.AsArray().Where(x => !b!.AsArray().Any(y => Compare(x, y) == 0)).Select(Copy)]),
        _ => throw new JqException($"{Describe(a)} and {Describe(b)} cannot be subtracted"),
    };

    public static JsonNode? Multiply(JsonNode? a, JsonNode? b) => (Type(a), Type(b)) switch
    {
        ("number", "number") => Number(Num(a) * Num(b)),
        ("string", "number") => Repeat(Text(a), Num(b)),
        ("number", "string") => Repeat(Text(b), Num(a)),
        _ => throw new JqException($"{Describe(a)} and {Describe(b)} cannot be multiplied"),
    };

    private static JsonNode? Repeat(string s, double n) => n <= 0 ? null : Str(string.Concat(Enumerable.Repeat(s, Math.Max(1, (int)Math.Ceiling(n)))));

    public static JsonNode? Divide(JsonNode? a, JsonNode? b)
    {
        if (Type(a) == "number" && Type(b) == "number")
        {
            return Num(b) == 0 ? throw new JqException($"{Describe(a)} and {Describe(b)} cannot be divided because the divisor is zero") : Number(Num(a) / Num(b));
        }

        if (Type(a) == "string" && Type(b) == "string")
        {
            return JqBuiltins.Split(Text(a), Text(b));
        }

        throw new JqException($"{Describe(a)} and {Describe(b)} cannot be divided");
    }

    public static JsonNode? Modulo(JsonNode? a, JsonNode? b)
    {
        if (Type(a) != "number" || Type(b) != "number")
        {
            throw new JqException($"{Describe(a)} and {Describe(b)} cannot be divided");
        }

        var divisor = (long)Num(b);
        return divisor == 0 ? throw new JqException($"{Describe(a)} and {Describe(b)} cannot be divided because the divisor is zero") : Number((long)Num(a) % Math.Abs(divisor));
    }
}

/// <summary>The builtins of jq 1.6 that partition-key queries use, by name and arity.</summary>
internal static class JqBuiltins
{
    private static IEnumerable<JsonNode?> One(JsonNode? v) => [v];

    public static JqFilter? Get(string name, List<JqFilter> args)
    {
        JqFilter Unary(Func<JsonNode?, JsonNode?> f) => (input, _) => One(f(input));

        JqFilter WithArg(Func<JsonNode?, JsonNode?, JsonNode?> f) => (input, scope) => args[0](input, scope).Select(a => f(input, a)).ToList();

        return (name, args.Count) switch
        {
            ("empty", 0) => (_, _) => [],
            ("not", 0) => Unary(v => Bool(!Truthy(v))),
            ("true", 0) => Unary(_ => Bool(true)),
            ("false", 0) => Unary(_ => Bool(false)),
            ("null", 0) => Unary(_ => null),
            ("length", 0) => Unary(Length),
            ("utf8bytelength", 0) => Unary(v => Number(Encoding.UTF8.GetByteCount(Text(v)))),
            ("type", 0) => Unary(v => Str(Type(v))),
            ("keys", 0) => Unary(v => v is JsonObject o ? SortedKeys(o) : v is JsonArray a ? new JsonArray([.. Enumerable.Range(0, a.Count).Select(i => Number(i))]) : throw new JqException($"{Describe(v)} has no keys")),
            ("keys_unsorted", 0) => Unary(v => v is JsonObject o ? new JsonArray([.. o.Select(p => Str(p.Key))]) : throw new JqException($"{Describe(v)} has no keys")),
            ("has", 1) => WithArg((v, k) => Bool(v switch
            {
                JsonObject o => o.ContainsKey(Text(k)),
                JsonArray a => Num(k) >= 0 && Num(k) < a.Count,
                _ => throw new JqException($"Cannot check whether {Type(v)} has a {Type(k)} key"),
            })),
            ("select", 1) => (input, scope) => args[0](input, scope).Where(Truthy).Select(_ => Copy(input)).ToList(),
            ("map", 1) => (input, scope) => One(new JsonArray([.. Elements(input).SelectMany(e => args[0](e, scope)).Select(Copy)])),
            ("map_values", 1) => (input, scope) => One(MapValues(input, v => args[0](v, scope).FirstOrDefault())),
            ("with_entries", 1) => (input, scope) => One(FromEntries(new JsonArray([.. ToEntries(input).AsArray().SelectMany(e => args[0](e, scope)).Select(Copy)]))),
            ("to_entries", 0) => Unary(ToEntries),
            ("from_entries", 0) => Unary(FromEntries),
            ("add", 0) => Unary(v => Elements(v).Aggregate((JsonNode?)null, JqArithmetic.Add)),
            ("any", 0) => Unary(v => Bool(Elements(v).Any(Truthy))),
            ("all", 0) => Unary(v => Bool(Elements(v).All(Truthy))),
            ("range", 1) => (input, scope) => args[0](input, scope).SelectMany(n => Range(0, Num(n))).ToList(),
            ("range", 2) => (input, scope) => args[0](input, scope).SelectMany(a => args[1](input, scope).SelectMany(b => Range(Num(a), Num(b)))).ToList(),
            ("floor", 0) => Unary(v => Number(Math.Floor(Num(v)))),
            ("sqrt", 0) => Unary(v => Number(Math.Sqrt(Num(v)))),
            ("fabs", 0) => Unary(v => Number(Math.Abs(Num(v)))),
            ("round", 0) => Unary(v => Number(Math.Round(Num(v), MidpointRounding.AwayFromZero))),
            ("min", 0) => Unary(v => Elements(v).OrderBy(x => x, Comparer).FirstOrDefault()),
            ("max", 0) => Unary(v => Elements(v).OrderBy(x => x, Comparer).LastOrDefault()),
            ("sort", 0) => Unary(v => new JsonArray([.. Elements(v).OrderBy(x => x, Comparer).Select(Copy)])),
            ("sort_by", 1) => (input, scope) => One(new JsonArray([.. Elements(input).OrderBy(x => new JsonArray([.. args[0](x, scope).Select(Copy)]), Comparer).Select(Copy)])),
            ("unique", 0) => Unary(v => new JsonArray([.. Elements(v).OrderBy(x => x, Comparer).Distinct(EqualityComparer).Select(Copy)])),
            ("reverse", 0) => Unary(v => v is null ? new JsonArray() : IsString(v) ? Str(new string(Text(v).Reverse().ToArray())) : new JsonArray([.. Elements(v).Reverse().Select(Copy)])),
            ("first", 0) => Unary(v => JqParser.Index(v, Number(0))),
            ("last", 0) => Unary(v => JqParser.Index(v, Number(-1))),
            ("first", 1) => (input, scope) => args[0](input, scope).Take(1).ToList(),
            ("tostring", 0) => Unary(v => Str(Raw(v))),
            ("tonumber", 0) => Unary(v => IsNumber(v) ? v : double.TryParse(Text(v), NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
                ? Number(d) : throw new JqException($"Cannot parse '{Text(v)}' as JSON")),
            ("tojson", 0) => Unary(v => Str(Render(v))),
            ("fromjson", 0) => Unary(v => ParseJson(Text(v))),
            ("ascii_downcase", 0) => Unary(v => Str(AsciiCase(Text(v), upper: false))),
            ("ascii_upcase", 0) => Unary(v => Str(AsciiCase(Text(v), upper: true))),
            ("ltrimstr", 1) => WithArg((v, p) => IsString(v) && IsString(p) && Text(v).StartsWith(Text(p), StringComparison.Ordinal) ? Str(Text(v)[Text(p).Length..]) : Copy(v)),
            ("rtrimstr", 1) => WithArg((v, p) => IsString(v) && IsString(p) && Text(v).EndsWith(Text(p), StringComparison.Ordinal) ? Str(Text(v)[..^Text(p).Length]) : Copy(v)),
            ("startswith", 1) => WithArg((v, p) => IsString(v) && IsString(p) ? Bool(Text(v).StartsWith(Text(p), StringComparison.Ordinal)) : throw new JqException("startswith() requires string inputs")),
            ("endswith", 1) => WithArg((v, p) => IsString(v) && IsString(p) ? Bool(Text(v).EndsWith(Text(p), StringComparison.Ordinal)) : throw new JqException("endswith() requires string inputs")),
            ("split", 1) => WithArg((v, s) => Split(Text(v), Text(s))),
            ("join", 1) => WithArg((v, s) => Str(string.Join(Text(s), Elements(v).Select(e => e is null ? "" : Type(e) is "string" or "number" or "boolean" ? Raw(e) : throw new JqException($"Cannot join with {Type(e)}"))))),
            ("test", 1) => WithArg((v, re) => Bool(Regex.IsMatch(Text(v), Text(re), RegexOptions.None, TimeSpan.FromSeconds(1)))),
            ("test", 2) => (input, scope) => args[0](input, scope).SelectMany(re => args[1](input, scope).Select(flags =>
                Bool(Regex.IsMatch(Text(input), Text(re), Text(flags).Contains('i') ? RegexOptions.IgnoreCase : RegexOptions.None, TimeSpan.FromSeconds(1))))).ToList(),
            ("contains", 1) => WithArg((v, b) => Bool(Contains(v, b))),
            ("error", 0) => (input, _) => throw new JqException(IsString(input) ? Text(input) : Render(input) + " (not a string)"),
            ("error", 1) => (input, scope) => throw new JqException(args[0](input, scope).Select(m => IsString(m) ? Text(m) : Render(m)).FirstOrDefault() ?? "null"),
            ("now", 0) => Unary(_ => Number(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0)),
            ("gmtime", 0) => Unary(v => JqTime.GmTime(Num(v))),
            ("mktime", 0) => Unary(v => Number(JqTime.MkTime(v))),
            ("strftime", 1) => WithArg((v, f) => Str(JqTime.Strftime(v, Text(f)))),
            ("strptime", 1) => WithArg((v, f) => JqTime.Strptime(Text(v), Text(f))),
            ("todate" or "todateiso8601", 0) => Unary(v => Str(JqTime.Strftime(v, "%Y-%m-%dT%H:%M:%SZ"))),
            ("fromdate" or "fromdateiso8601", 0) => Unary(v => Number(JqTime.MkTime(JqTime.Strptime(Text(v), "%Y-%m-%dT%H:%M:%SZ")))),
            ("date", 0) => Unary(v => Str(JqTime.Strftime(v, "%Y-%m-%dT%H:%M:%SZ"))),
            ("values", 0) => (input, _) => input is null ? [] : [input],
            ("nulls", 0) => (input, _) => input is null ? [null] : [],
            ("strings", 0) => (input, _) => IsString(input) ? [input] : [],
            ("numbers", 0) => (input, _) => IsNumber(input) ? [input] : [],
            ("ascii", 0) => Unary(v => Str(((char)(int)Num(v)).ToString())),
            ("implode", 0) => Unary(v => Str(string.Concat(Elements(v).Select(c => char.ConvertFromUtf32((int)Num(c)))))),
            ("explode", 0) => Unary(v => new JsonArray([.. Runes(Text(v)).Select(r => Number(r))])),
            _ => null,
        };
    }

    public static JqFilter? Format(string name) => name switch
    {
        "text" => (input, _) => [Str(Raw(input))],
        "json" => (input, _) => [Str(Render(input))],
        "base64" => (input, _) => [Str(Convert.ToBase64String(Encoding.UTF8.GetBytes(Raw(input))))],
        "base64d" => (input, _) => [Str(Encoding.UTF8.GetString(Convert.FromBase64String(Text(input).PadRight((Text(input).Length + 3) / 4 * 4, '='))))],
        _ => null,
    };

    private static readonly Comparer<JsonNode?> Comparer = Comparer<JsonNode?>.Create(Compare);

    private static readonly IEqualityComparer<JsonNode?> EqualityComparer = new NodeEquality();

    private sealed class NodeEquality : IEqualityComparer<JsonNode?>
    {
        public bool Equals(JsonNode? x, JsonNode? y) => Compare(x, y) == 0;

        public int GetHashCode(JsonNode? obj) => Render(obj).GetHashCode(StringComparison.Ordinal);
    }

    private static IEnumerable<int> Runes(string s)
    {
        foreach (var r in s.EnumerateRunes())
        {
            yield return r.Value;
        }
    }

    private static JsonNode? Length(JsonNode? v) => v switch
    {
        null => Number(0),
        JsonArray a => Number(a.Count),
        JsonObject o => Number(o.Count),
        _ when IsString(v) => Number(Runes(Text(v)).Count()),
        _ when IsNumber(v) => Number(Math.Abs(Num(v))),
        _ => throw new JqException($"{Describe(v)} has no length"),
    };

    private static IEnumerable<JsonNode?> Elements(JsonNode? v) => v switch
    {
        JsonArray a => a,
        JsonObject o => o.Select(p => p.Value),
        null => [],
        _ => throw new JqException($"Cannot iterate over {Describe(v)}"),
    };

    private static IEnumerable<JsonNode?> Range(double from, double to)
    {
        for (var i = from; i < to; i++)
        {
            yield return Number(i);
        }
    }

    private static JsonNode MapValues(JsonNode? v, Func<JsonNode?, JsonNode?> f) => v switch
    {
        JsonArray a => new JsonArray([.. a.Select(x => Copy(f(x)))]),
        JsonObject o => new JsonObject(o.Select(p => KeyValuePair.Create(p.Key, Copy(f(p.Value))))),
        _ => throw new JqException($"Cannot iterate over {Describe(v)}"),
    };

    private static JsonNode ToEntries(JsonNode? v) => v is JsonObject o
        ? new JsonArray([.. o.Select(p => (JsonNode?)new JsonObject { ["key"] = p.Key, ["value"] = Copy(p.Value) })])
        : throw new JqException($"{Describe(v)} has no keys");

    private static JsonNode FromEntries(JsonNode? v)
    {
        var result = new JsonObject();
        foreach (var e in Elements(v))
        {
            var key = e?["key"] ?? e?["k"] ?? e?["name"] ?? e?["Name"] ?? e?["Key"] ?? e?["K"];
            var value = e is JsonObject eo ? (eo.TryGetPropertyValue("value", out var x) ? x : eo["v"] ?? eo["Value"] ?? eo["V"]) : null;
            result[IsString(key) ? Text(key) : Raw(key)] = Copy(value);
        }

        return result;
    }

    internal static JsonNode Split(string s, string separator) =>
        new JsonArray([.. (s.Length == 0 ? [] : separator.Length == 0 ? s.Select(c => c.ToString()).ToArray() : s.Split(separator)).Select(p => Str(p))]);

    private static string AsciiCase(string s, bool upper) =>
        string.Create(s.Length, (s, upper), (span, state) =>
        {
            for (var i = 0; i < state.s.Length; i++)
            {
                var c = state.s[i];
                span[i] = state.upper ? (c is >= 'a' and <= 'z' ? (char)(c - 32) : c) : (c is >= 'A' and <= 'Z' ? (char)(c + 32) : c);
            }
        });

    private static bool Contains(JsonNode? a, JsonNode? b) => (Type(a), Type(b)) switch
    {
        ("object", "object") => b!.AsObject().All(p => a!.AsObject().TryGetPropertyValue(p.Key, out var v) && Contains(v, p.Value)),
        ("array", "array") => b!.AsArray().All(x => a!.AsArray().Any(y => Contains(y, x))),
        ("string", "string") => Text(a).Contains(Text(b), StringComparison.Ordinal),
        var (ta, tb) when ta == tb => Compare(a, b) == 0,
        _ => throw new JqException($"{Describe(a)} and {Describe(b)} cannot have their containment checked"),
    };

    private static JsonNode? ParseJson(string s)
    {
        try
        {
            return JsonNode.Parse(s, documentOptions: Millrace.Protocol.Wire.JsonText.StrictDocument);
        }
        catch (JsonException e)
        {
            throw new JqException($"{s} (while parsing '{s}'): {e.Message}");
        }
    }
}

/// <summary>jq 1.6's time functions: broken-down time is [year, month 0-11, mday, hours, minutes, seconds, wday, yday], UTC.</summary>
internal static class JqTime
{
    public static JsonNode GmTime(double seconds)
    {
        var t = DateTimeOffset.UnixEpoch.AddTicks((long)(seconds * TimeSpan.TicksPerSecond));
        var fraction = seconds - Math.Floor(seconds);
        return new JsonArray(Number(t.Year), Number(t.Month - 1), Number(t.Day), Number(t.Hour), Number(t.Minute), Number(t.Second + fraction),
            Number((int)t.DayOfWeek), Number(t.DayOfYear - 1));
    }

    private static DateTimeOffset FromBrokenDown(JsonNode? v)
    {
        if (v is not JsonArray a || a.Count < 6 || a.Take(6).Any(x => !IsNumber(x)))
        {
            throw new JqException("mktime requires array of 6 numbers");
        }

        var seconds = Num(a[5]);
        return new DateTimeOffset((int)Num(a[0]), 1, 1, 0, 0, 0, TimeSpan.Zero).AddMonths((int)Num(a[1])).AddDays(Num(a[2]) - 1)
            .AddHours(Num(a[3])).AddMinutes(Num(a[4])).AddSeconds(Math.Floor(seconds));
    }

    public static double MkTime(JsonNode? v) => FromBrokenDown(v).ToUnixTimeSeconds();

    public static string Strftime(JsonNode? v, string format)
    {
        var time = IsNumber(v) ? DateTimeOffset.UnixEpoch.AddSeconds(Math.Floor(Num(v))) : v is JsonArray
            ? FromBrokenDown(v)
            : throw new JqException("strftime/1 requires parsed datetime inputs");
        var s = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length)
            {
                s.Append(format[i]);
                continue;
            }

            var c = format[++i];
            s.Append(c switch
            {
                'Y' => time.Year.ToString("0000", CultureInfo.InvariantCulture),
                'C' => (time.Year / 100).ToString("00", CultureInfo.InvariantCulture),
                'y' => (time.Year % 100).ToString("00", CultureInfo.InvariantCulture),
                'm' => time.Month.ToString("00", CultureInfo.InvariantCulture),
                'd' => time.Day.ToString("00", CultureInfo.InvariantCulture),
                'e' => time.Day.ToString(CultureInfo.InvariantCulture).PadLeft(2),
                'H' => time.Hour.ToString("00", CultureInfo.InvariantCulture),
                'I' => (time.Hour % 12 == 0 ? 12 : time.Hour % 12).ToString("00", CultureInfo.InvariantCulture),
                'M' => time.Minute.ToString("00", CultureInfo.InvariantCulture),
                'S' => time.Second.ToString("00", CultureInfo.InvariantCulture),
                'j' => time.DayOfYear.ToString("000", CultureInfo.InvariantCulture),
                'b' or 'h' => CultureInfo.InvariantCulture.DateTimeFormat.GetAbbreviatedMonthName(time.Month),
                'B' => CultureInfo.InvariantCulture.DateTimeFormat.GetMonthName(time.Month),
                'a' => time.DayOfWeek.ToString()[..3],
                'A' => time.DayOfWeek.ToString(),
                'u' => (((int)time.DayOfWeek + 6) % 7 + 1).ToString(CultureInfo.InvariantCulture),
                'w' => ((int)time.DayOfWeek).ToString(CultureInfo.InvariantCulture),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'Z' => "UTC",
                'z' => "+0000",
                's' => time.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture),
                'F' => time.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                'T' => time.ToString("HH:mm:ss", CultureInfo.InvariantCulture),
                'D' => time.ToString("MM/dd/yy", CultureInfo.InvariantCulture),
                'R' => time.ToString("HH:mm", CultureInfo.InvariantCulture),
                'n' => "\n",
                't' => "\t",
                '%' => "%",
                _ => throw new JqException($"strftime/1: unsupported conversion %{c}"),
            });
        }

        return s.ToString();
    }

    /// <summary>strptime for the conversions Strftime writes (numeric fields, %b/%B, %Z as UTC, literal text).</summary>
    public static JsonNode Strptime(string input, string format)
    {
        var net = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length)
            {
                net.Append(char.IsAsciiLetter(format[i]) || format[i] is '\'' or '\\' or '"' ? "\\" + format[i] : format[i].ToString());
                continue;
            }

            net.Append(format[++i] switch
            {
                'Y' => "yyyy",
                'm' => "MM",
                'd' => "dd",
                'H' => "HH",
                'M' => "mm",
                'S' => "ss",
                'b' or 'h' => "MMM",
                'B' => "MMMM",
                'y' => "yy",
                'j' => throw new JqException("strptime/1: %j is not supported"),
                'Z' => "'UTC'",
                'z' => "zzz",
                'T' => "HH:mm:ss",
                'F' => "yyyy-MM-dd",
                '%' => "%",
                var c => throw new JqException($"strptime/1: unsupported conversion %{c}"),
            });
        }

        if (!DateTimeOffset.TryParseExact(input, net.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var time))
        {
            throw new JqException($"date \"{input}\" does not match format \"{format}\"");
        }

        return GmTime(time.ToUnixTimeSeconds());
    }
}
