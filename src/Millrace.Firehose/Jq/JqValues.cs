using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Millrace.Firehose.Jq;

/// <summary>A jq syntax or runtime error, worded as jq words it where jq has a wording.</summary>
public sealed class JqException(string message) : Exception(message);

/// <summary>jq's view of JSON values (null, booleans, numbers as doubles, strings, arrays, objects) over System.Text.Json nodes.</summary>
internal static class JqValues
{
    public static string Type(JsonNode? v) => v switch
    {
        null => "null",
        JsonObject => "object",
        JsonArray => "array",
        JsonValue x => x.GetValueKind() switch
        {
            JsonValueKind.String => "string",
            JsonValueKind.Number => "number",
            JsonValueKind.True or JsonValueKind.False => "boolean",
            _ => "null",
        },
        _ => "null",
    };

    public static bool Truthy(JsonNode? v) => !(v is null || (v is JsonValue x && x.GetValueKind() == JsonValueKind.False));

    public static JsonNode? Number(double d) => JsonValue.Create(d);

    public static JsonNode? Bool(bool b) => JsonValue.Create(b);

    public static JsonNode? Str(string s) => JsonValue.Create(s);

    public static bool IsNumber(JsonNode? v) => Type(v) == "number";

    public static bool IsString(JsonNode? v) => Type(v) == "string";

    public static double Num(JsonNode? v) => v is JsonValue x && x.GetValueKind() == JsonValueKind.Number
        ? x.TryGetValue<double>(out var d) ? d : double.Parse(x.ToJsonString(), CultureInfo.InvariantCulture)
        : throw new JqException($"{Describe(v)} is not a number");

    public static string Text(JsonNode? v) => v is JsonValue x && x.TryGetValue<string>(out var s) ? s : throw new JqException($"{Describe(v)} is not a string");

    /// <summary>How jq names a value in errors: its type and its JSON, e.g. <c>number (1)</c>.</summary>
    public static string Describe(JsonNode? v)
    {
        var json = Render(v);
        return $"{Type(v)} ({(json.Length > 11 ? json[..10] + "..." : json)})";
    }

    /// <summary>Compact JSON as jq prints it (integral numbers without a fraction).</summary>
    public static string Render(JsonNode? v) => v switch
    {
        null => "null",
        JsonValue x when x.GetValueKind() == JsonValueKind.Number => FormatNumber(Num(x)),
        JsonArray a => "[" + string.Join(",", a.Select(Render)) + "]",
        JsonObject o => "{" + string.Join(",", o.Select(p => JsonSerializer.Serialize(p.Key) + ":" + Render(p.Value))) + "}",
        _ => v.ToJsonString(new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }),
    };

    public static string FormatNumber(double d)
    {
        if (double.IsNaN(d))
        {
            return "null";
        }

        if (double.IsInfinity(d))
        {
            return d > 0 ? "1.7976931348623157e+308" : "-1.7976931348623157e+308";
        }

        return d == Math.Floor(d) && Math.Abs(d) < 1e17 ? ((long)d).ToString(CultureInfo.InvariantCulture) : d.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>A value as <c>jq -r</c> prints it: strings raw, everything else as JSON.</summary>
    public static string Raw(JsonNode? v) => IsString(v) ? Text(v) : Render(v);

    public static JsonNode? Copy(JsonNode? v) => v?.DeepClone();

    private static int Rank(JsonNode? v) => Type(v) switch
    {
        "null" => 0,
        "boolean" => Truthy(v) ? 2 : 1,
        "number" => 3,
        "string" => 4,
        "array" => 5,
        _ => 6,
    };

    /// <summary>jq's total order: null &lt; false &lt; true &lt; numbers &lt; strings &lt; arrays &lt; objects.</summary>
    public static int Compare(JsonNode? a, JsonNode? b)
    {
        var (ra, rb) = (Rank(a), Rank(b));
        if (ra != rb)
        {
            return ra.CompareTo(rb);
        }

        switch (ra)
        {
            case 3:
                return Num(a).CompareTo(Num(b));
            case 4:
                return string.CompareOrdinal(Text(a), Text(b));
            case 5:
                var (x, y) = (a!.AsArray(), b!.AsArray());
                for (var i = 0; i < Math.Min(x.Count, y.Count); i++)
                {
                    var c = Compare(x[i], y[i]);
                    if (c != 0)
                    {
                        return c;
                    }
                }

                return x.Count.CompareTo(y.Count);
            case 6:
                var (p, q) = (a!.AsObject(), b!.AsObject());
                var keys = Compare(SortedKeys(p), SortedKeys(q));
                if (keys != 0)
                {
                    return keys;
                }

                foreach (var key in p.Select(k => k.Key).Order(StringComparer.Ordinal))
                {
                    var c = Compare(p[key], q[key]);
                    if (c != 0)
                    {
                        return c;
                    }
                }

                return 0;
            default:
                return 0;
        }
    }

    public static JsonArray SortedKeys(JsonObject o) => new([.. o.Select(p => p.Key).Order(StringComparer.Ordinal).Select(k => (JsonNode?)JsonValue.Create(k))]);
}
