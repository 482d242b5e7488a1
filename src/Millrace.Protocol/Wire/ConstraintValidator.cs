using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Millrace.Protocol.Models;

namespace Millrace.Protocol.Wire;

/// <summary>
/// Checks a parsed input document against every constraint its shapes declare (required, length, range, pattern,
/// enum) and words the failures the way AWS's Coral services do, exactly as <see cref="ModelValidator"/> does for
/// Kinesis: <c>2 validation errors detected: Value null at 'streamName' failed to satisfy constraint: Member must not
/// be null; Value 'x' at 'records.1.member.partitionKey' failed to satisfy constraint: ...</c>. Members are walked in
/// model order; at most <see cref="MaxReportedErrors"/> failures are reported.
/// </summary>
public static class ConstraintValidator
{
    public const int MaxReportedErrors = 10;

    private static readonly ConcurrentDictionary<string, Regex> Patterns = new(StringComparer.Ordinal);

    /// <summary>The failures, or an empty list when the document satisfies the shape.</summary>
    public static IReadOnlyList<string> Check(ServiceModel service, ShapeModel? input, JsonObject document)
    {
        if (input is null)
        {
            return [];
        }

        var context = new Context(service);
        WalkStructure(input, document, context);
        return context.Errors;
    }

    /// <summary>The whole message ("1 validation error detected: ..."), or null when the document is valid.</summary>
    public static string? Validate(ServiceModel service, ShapeModel? input, JsonObject document)
    {
        var errors = Check(service, input, document);
        if (errors.Count == 0)
        {
            return null;
        }

        return errors.Count.ToString(CultureInfo.InvariantCulture) + (errors.Count == 1 ? " validation error detected: " : " validation errors detected: ")
            + string.Join("; ", errors);
    }

    private static void WalkStructure(ShapeModel shape, JsonObject obj, Context context)
    {
        foreach (var member in shape.Members)
        {
            if (context.Full)
            {
                return;
            }

            var value = obj[member.Name];
            if (value is null)
            {
                if (member.Required)
                {
                    context.Path.Add(member.PathName);
                    context.Add("null", "Member must not be null");
                    context.Path.RemoveAt(context.Path.Count - 1);
                }

                continue;
            }

            context.Path.Add(member.PathName);
            WalkValue(member.Shape, value, context);
            context.Path.RemoveAt(context.Path.Count - 1);
        }
    }

    private static void WalkValue(ShapeModel shape, JsonNode value, Context context)
    {
        switch (shape.Type)
        {
            case ShapeType.Structure when value is JsonObject obj:
                WalkStructure(shape, obj, context);
                break;
            case ShapeType.List when value is JsonArray list:
                WalkList(shape, list, context);
                break;
            case ShapeType.Map when value is JsonObject map:
                WalkMap(shape, map, context);
                break;
            case ShapeType.String:
                var s = ModelDocument.GetString(value) ?? "";
                if (shape.Enum is { } values && !values.Contains(s))
                {
                    context.Add(Quote(s), EnumText(shape));
                }

                if (shape.Pattern is { } pattern && !Compile(pattern).IsMatch(s))
                {
                    context.Add(Quote(s), "Member must satisfy regular expression pattern: " + pattern);
                }

                CheckBounds(shape, s.Length, Quote(s), context);
                break;
            case ShapeType.Integer:
            case ShapeType.Long:
                var n = ModelDocument.GetInt64(value) ?? 0;
                CheckBounds(shape, n, Quote(n.ToString(CultureInfo.InvariantCulture)), context);
                break;
            case ShapeType.Float:
            case ShapeType.Double:
                var d = ModelDocument.GetDouble(value) ?? 0;
                if ((shape.Min is { } dmin && d < dmin) || (shape.Max is { } dmax && d > dmax))
                {
                    context.Add(Quote(d.ToString("R", CultureInfo.InvariantCulture)), d < shape.Min ? MinText(shape) : MaxText(shape));
                }

                break;
            case ShapeType.Blob:
                var length = ModelDocument.GetBytes(value)?.Length ?? 0;
                CheckBounds(shape, length, "'" + BlobText(length) + "'", context);
                break;
        }
    }

    private static void CheckBounds(ShapeModel shape, double measure, string valueText, Context context)
    {
        if (shape.Min is { } min && measure < min)
        {
            context.Add(valueText, MinText(shape));
        }

        if (shape.Max is { } max && measure > max)
        {
            context.Add(valueText, MaxText(shape));
        }
    }

    private static void WalkList(ShapeModel shape, JsonArray list, Context context)
    {
        CheckBounds(shape, list.Count, Quote(Format(shape, list, context)), context);
        var member = shape.ListMember!.Shape;
        if (!member.IsScalar)
        {
            for (var i = 0; i < list.Count && !context.Full; i++)
            {
                context.Path.Add((i + 1).ToString(CultureInfo.InvariantCulture));
                context.Path.Add("member");
                if (list[i] is { } item)
                {
                    WalkValue(member, item, context);
                }
                else
                {
                    context.Add("null", "Member must not be null");
                }

                context.Path.RemoveAt(context.Path.Count - 1);
                context.Path.RemoveAt(context.Path.Count - 1);
            }

            return;
        }

        if (!HasScalarConstraints(member))
        {
            return;
        }

        foreach (var item in list)
        {
            if (item is not null && !ScalarSatisfies(member, item))
            {
                context.Add(Quote(Format(shape, list, context)), "Member must satisfy constraint: " + ChildConstraintText(member));
                return;
            }
        }
    }

    private static void WalkMap(ShapeModel shape, JsonObject map, Context context)
    {
        CheckBounds(shape, map.Count, Quote(Format(shape, map, context)), context);
        var keyShape = shape.MapKey!.Shape;
        if (HasScalarConstraints(keyShape))
        {
            foreach (var (key, _) in map)
            {
                if (!ScalarSatisfies(keyShape, JsonValue.Create(key)))
                {
                    context.Add(Quote(Format(shape, map, context)), "Map keys must satisfy constraint: " + ChildConstraintText(keyShape));
                    break;
                }
            }
        }

        var valueShape = shape.MapValue!.Shape;
        if (!valueShape.IsScalar)
        {
            foreach (var (key, item) in map)
            {
                if (context.Full)
                {
                    return;
                }

                if (item is not null)
                {
                    context.Path.Add(key);
                    WalkValue(valueShape, item, context);
                    context.Path.RemoveAt(context.Path.Count - 1);
                }
            }

            return;
        }

        if (!HasScalarConstraints(valueShape))
        {
            return;
        }

        foreach (var (_, item) in map)
        {
            if (item is not null && !ScalarSatisfies(valueShape, item))
            {
                context.Add(Quote(Format(shape, map, context)), "Map value must satisfy constraint: " + ChildConstraintText(valueShape));
                return;
            }
        }
    }

    private static bool HasScalarConstraints(ShapeModel shape) =>
        shape.Min is not null || shape.Max is not null || shape.Pattern is not null || shape.Enum is not null;

    private static bool ScalarSatisfies(ShapeModel shape, JsonNode value)
    {
        switch (shape.Type)
        {
            case ShapeType.String:
                var s = ModelDocument.GetString(value) ?? "";
                return (shape.Enum is null || shape.Enum.Contains(s)) && (shape.Pattern is null || Compile(shape.Pattern).IsMatch(s))
                    && s.Length >= (shape.Min ?? 0) && s.Length <= (shape.Max ?? double.MaxValue);
            case ShapeType.Integer:
            case ShapeType.Long:
                var n = ModelDocument.GetInt64(value) ?? 0;
                return n >= (shape.Min ?? double.MinValue) && n <= (shape.Max ?? double.MaxValue);
            case ShapeType.Float:
            case ShapeType.Double:
                var d = ModelDocument.GetDouble(value) ?? 0;
                return d >= (shape.Min ?? double.MinValue) && d <= (shape.Max ?? double.MaxValue);
            case ShapeType.Blob:
                var length = ModelDocument.GetBytes(value)?.Length ?? 0;
                return length >= (shape.Min ?? 0) && length <= (shape.Max ?? double.MaxValue);
            default:
                return true;
        }
    }

    private static bool IsLengthKind(ShapeModel shape) => shape.Type is ShapeType.String or ShapeType.Blob or ShapeType.List or ShapeType.Map;

    private static string Bound(double value) =>
        value == Math.Floor(value) && Math.Abs(value) < 1e18 ? ((long)value).ToString(CultureInfo.InvariantCulture) : value.ToString("R", CultureInfo.InvariantCulture);

    private static string MinText(ShapeModel shape) =>
        $"Member must have {(IsLengthKind(shape) ? "length" : "value")} greater than or equal to {Bound(shape.Min!.Value)}";

    private static string MaxText(ShapeModel shape) =>
        $"Member must have {(IsLengthKind(shape) ? "length" : "value")} less than or equal to {Bound(shape.Max!.Value)}";

    private static string EnumText(ShapeModel shape) => "Member must satisfy enum value set: [" + string.Join(", ", shape.Enum!) + "]";

    private static string ChildConstraintText(ShapeModel shape)
    {
        var parts = new List<string>(4);
        if (shape.Max is not null)
        {
            parts.Add(MaxText(shape));
        }

        if (shape.Min is not null)
        {
            parts.Add(MinText(shape));
        }

        if (shape.Pattern is not null)
        {
            parts.Add("Member must satisfy regular expression pattern: " + shape.Pattern);
        }

        if (shape.Enum is not null)
        {
            parts.Add(EnumText(shape));
        }

        return "[" + string.Join(", ", parts) + "]";
    }

    /// <summary>
    /// The compiled form of a model pattern, cached: anchored to the whole value (as the Java services apply it),
    /// <c>\d</c> as ASCII digits, a one-second timeout against pathological input.
    /// </summary>
    public static Regex Compile(string pattern) => Patterns.GetOrAdd(pattern, static p =>
    {
        var sb = new StringBuilder(p.Length + 16).Append(@"\A(?:");
        var inClass = false;
        for (var i = 0; i < p.Length; i++)
        {
            var c = p[i];
            if (c == '\\' && i + 1 < p.Length)
            {
                var next = p[i + 1];
                switch (next)
                {
                    case 'd':
                        sb.Append(inClass ? "0-9" : "[0-9]");
                        break;
                    case 'p' when i + 2 < p.Length && p[i + 2] == '{':
                        // Java's \p{Alnum}, \p{Punct}, ... have no .NET names; map the POSIX classes Java accepts.
                        var end = p.IndexOf('}', i + 3);
                        var name = end < 0 ? "" : p[(i + 3)..end];
                        var posix = PosixClass(name);
                        if (posix is not null && end > 0)
                        {
                            sb.Append(inClass ? posix : "[" + posix + "]");
                            i = end - 1;
                        }
                        else
                        {
                            sb.Append(c).Append(next);
                        }

                        break;
                    default:
                        sb.Append(c).Append(next);
                        break;
                }

                i++;
                continue;
            }

            if (c == '[' && !inClass)
            {
                inClass = true;
            }
            else if (c == ']' && inClass)
            {
                inClass = false;
            }

            sb.Append(c);
        }

        sb.Append(@")\z");
        try
        {
            return new Regex(sb.ToString(), RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
        }
        catch (ArgumentException)
        {
            // A Java construct .NET does not know: accept everything rather than reject valid requests.
            return new Regex(@"[\s\S]*", RegexOptions.None, TimeSpan.FromSeconds(1));
        }
    });

    private static string? PosixClass(string name) => name switch
    {
        "Alnum" => "a-zA-Z0-9",
        "Alpha" => "a-zA-Z",
        "Digit" => "0-9",
        "Upper" => "A-Z",
        "Lower" => "a-z",
        "Punct" => @"!-/:-@\[-`{-~",
        "Space" => @" \t\n\x0B\f\r",
        "XDigit" => "0-9a-fA-F",
        "Print" => @"\x20-\x7E",
        "Graph" => @"\x21-\x7E",
        "ASCII" => @"\x00-\x7F",
        _ => null,
    };

    private static string Quote(string? text) => text is null ? "null" : "'" + text + "'";

    private static string BlobText(long length) =>
        "java.nio.HeapByteBuffer[pos=0 lim=" + length.ToString(CultureInfo.InvariantCulture) + " cap=" + length.ToString(CultureInfo.InvariantCulture) + "]";

    /// <summary>A value printed the way the Java service prints it in a validation message.</summary>
    private static string Format(ShapeModel shape, JsonNode? value, Context context)
    {
        if (value is null)
        {
            return "null";
        }

        switch (shape.Type)
        {
            case ShapeType.String:
                return ModelDocument.GetString(value) ?? "";
            case ShapeType.Integer:
            case ShapeType.Long:
                return (ModelDocument.GetInt64(value) ?? 0).ToString(CultureInfo.InvariantCulture);
            case ShapeType.Float:
            case ShapeType.Double:
                return (ModelDocument.GetDouble(value) ?? 0).ToString("R", CultureInfo.InvariantCulture);
            case ShapeType.Blob:
                return BlobText(ModelDocument.GetBytes(value)?.Length ?? 0);
            case ShapeType.Timestamp:
                return (ModelDocument.GetTimestamp(value) ?? DateTimeOffset.UnixEpoch).ToString("ddd MMM dd HH:mm:ss 'UTC' yyyy", CultureInfo.InvariantCulture);
            case ShapeType.List when value is JsonArray list:
                return "[" + string.Join(", ", list.Select(i => Format(shape.ListMember!.Shape, i, context))) + "]";
            case ShapeType.Map when value is JsonObject map:
                return "{" + string.Join(", ", map.Select(kv => kv.Key + "=" + Format(shape.MapValue!.Shape, kv.Value, context))) + "}";
            case ShapeType.Structure:
                // Java's Object.toString of the generated request class; a stable hash of the JSON stands in for it.
                var hash = 0;
                foreach (var c in value.ToJsonString())
                {
                    hash = unchecked((31 * hash) + c);
                }

                return "com.amazonaws." + context.Service.EndpointPrefix + ".v" + context.Service.ApiVersion.Replace("-", "", StringComparison.Ordinal)
                    + "." + shape.Name + "@" + hash.ToString("x", CultureInfo.InvariantCulture);
            default:
                return ModelDocument.GetString(value) ?? "";
        }
    }

    private sealed class Context(ServiceModel service)
    {
        public ServiceModel Service { get; } = service;

        public List<string> Path { get; } = [];

        public List<string> Errors { get; } = [];

        public bool Full => Errors.Count >= MaxReportedErrors;

        public void Add(string valueText, string constraint)
        {
            if (!Full)
            {
                Errors.Add("Value " + valueText + " at '" + string.Join('.', Path) + "' failed to satisfy constraint: " + constraint);
            }
        }
    }
}
