using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Millrace.Protocol.Tests;

/// <summary>One generated request and what the validator must answer.</summary>
public sealed record ValidationCase(string Id, string Operation, string Body, string? ErrorType, string? Message, string? MessageEnd)
{
    public override string ToString() => Id;
}

/// <summary>
/// Builds validation cases for every operation from the constraints file itself: a minimal valid request, a
/// "full" valid request (every member present), each required member missing, each constraint violated and each
/// member given the wrong JSON type. Expected messages are computed from the model, not from the validator.
/// </summary>
public static class GeneratedValidationCases
{
    private const int MaxDepth = 4;

    private static readonly Dictionary<string, string> PatternSamples = new(StringComparer.Ordinal)
    {
        ["[a-zA-Z0-9_.-]+"] = "a",
        [@"arn:aws.*:kinesis:.*:\d{12}:stream/\S+"] = "arn:aws:kinesis:us-east-1:123456789012:stream/s",
        [@"arn:aws.*:kinesis:.*:\d{12}:.*stream/\S+"] = "arn:aws:kinesis:us-east-1:123456789012:stream/s",
        [@"^(arn):aws.*:kinesis:.*:\d{12}:.*stream\/[a-zA-Z0-9_.-]+\/consumer\/[a-zA-Z0-9_.-]+:[0-9]+"] =
            "arn:aws:kinesis:us-east-1:123456789012:stream/s/consumer/c:1",
        [@"0|([1-9]\d{0,38})"] = "0",
        [@"0|([1-9]\d{0,128})"] = "0",
        ["[a-z0-9]{20}-[a-z0-9]{3}"] = "aaaaaaaaaaaaaaaaaaaa-aaa",
    };

    private static readonly Lazy<IReadOnlyDictionary<string, ValidationCase>> LazyCases = new(Build);

    public static IReadOnlyDictionary<string, ValidationCase> Cases => LazyCases.Value;

    public static TheoryData<string> Ids()
    {
        var data = new TheoryData<string>();
        foreach (var id in Cases.Keys)
        {
            data.Add(id);
        }

        return data;
    }

    private static IReadOnlyDictionary<string, ValidationCase> Build()
    {
        var model = ModelValidator.Kinesis;
        var cases = new Dictionary<string, ValidationCase>(StringComparer.Ordinal);
        void Add(ValidationCase c) => cases.Add(c.Id, c);

        foreach (var op in model.Operations)
        {
            var input = model.GetInputShape(op);
            if (input is null)
            {
                Add(new(op + " {}", op, "{}", null, null, null));
                continue;
            }

            Add(new(op + " minimal", op, Sample(input, full: false, 0)!.ToJsonString(), null, null, null));
            var full = (JsonObject)Sample(input, full: true, 0)!;
            Add(new(op + " full", op, full.ToJsonString(), null, null, null));
            foreach (var location in Structures(input, full, "", 0))
            {
                foreach (var member in location.Shape.Members)
                {
                    var path = location.Path.Length == 0 ? member.PathName : location.Path + "." + member.PathName;
                    var id = op + " " + path;
                    if (member.Required)
                    {
                        Add(Mutated(id + " missing", op, full, location.Node, member.Name, null,
                            Single($"Value null at '{path}' failed to satisfy constraint: Member must not be null")));
                    }

                    var wrong = WrongType(member.Target);
                    Add(Mutated(id + " wrong type", op, full, location.Node, member.Name, wrong.Value,
                        new("SerializationException", wrong.Message, null)));

                    foreach (var violation in Violations(member.Target, path))
                    {
                        Add(Mutated(id + " " + violation.Name, op, full, location.Node, member.Name, violation.Value, violation.Expected));
                    }
                }
            }
        }

        return cases;
    }

    private sealed record Expected(string? ErrorType, string? Message, string? MessageEnd);

    private sealed record Violation(string Name, JsonNode Value, Expected Expected);

    private sealed record Location(ModelShape Shape, JsonObject Node, string Path);

    private static Expected Single(string error) => new("ValidationException", "1 validation error detected: " + error, null);

    private static Expected Many(IReadOnlyList<string> errors) =>
        new("ValidationException", errors.Count.ToString(CultureInfo.InvariantCulture)
            + (errors.Count == 1 ? " validation error detected: " : " validation errors detected: ") + string.Join("; ", errors), null);

    private static ValidationCase Mutated(string id, string op, JsonObject root, JsonObject target, string member, JsonNode? value, Expected expected)
    {
        var saved = target[member]?.DeepClone();
        var had = target.ContainsKey(member);
        if (value is null)
        {
            target.Remove(member);
        }
        else
        {
            target[member] = value.DeepClone();
        }

        var body = root.ToJsonString();
        target.Remove(member);
        if (had)
        {
            target[member] = saved;
        }

        return new(id, op, body, expected.ErrorType, expected.Message, expected.MessageEnd);
    }

    private static IEnumerable<Location> Structures(ModelShape shape, JsonObject node, string path, int depth)
    {
        yield return new(shape, node, path);
        if (depth >= MaxDepth)
        {
            yield break;
        }

        foreach (var member in shape.Members)
        {
            var childPath = path.Length == 0 ? member.PathName : path + "." + member.PathName;
            var child = node[member.Name];
            if (member.Target.Kind == ShapeKind.Structure && child is JsonObject obj)
            {
                foreach (var l in Structures(member.Target, obj, childPath, depth + 1))
                {
                    yield return l;
                }
            }
            else if (member.Target.Kind == ShapeKind.List && member.Target.ListMember!.Kind == ShapeKind.Structure
                && child is JsonArray { Count: > 0 } array && array[0] is JsonObject first)
            {
                foreach (var l in Structures(member.Target.ListMember, first, childPath + ".1.member", depth + 1))
                {
                    yield return l;
                }
            }
        }
    }

    /// <summary>A valid value for a shape: required members only, or every member when <paramref name="full"/>.</summary>
    public static JsonNode? Sample(ModelShape shape, bool full, int depth)
    {
        switch (shape.Kind)
        {
            case ShapeKind.Structure:
                var obj = new JsonObject();
                foreach (var m in shape.Members)
                {
                    if (m.Required || (full && depth < MaxDepth))
                    {
                        obj[m.Name] = Sample(m.Target, full, depth + 1);
                    }
                }

                return obj;
            case ShapeKind.List:
                var list = new JsonArray();
                for (var i = 0; i < Math.Max(shape.Min ?? 1, 1); i++)
                {
                    list.Add(Sample(shape.ListMember!, full, depth + 1));
                }

                return list;
            case ShapeKind.Map:
                var map = new JsonObject();
                for (var i = 0; i < Math.Max(shape.Min ?? 1, 1); i++)
                {
                    map["k" + i.ToString(CultureInfo.InvariantCulture)] = Sample(shape.MapValue!, full, depth + 1);
                }

                return map;
            case ShapeKind.String:
                return StringSample(shape);
            case ShapeKind.Integer:
            case ShapeKind.Long:
            case ShapeKind.Double:
                return shape.Min ?? Math.Min(1, shape.Max ?? 1);
            case ShapeKind.Boolean:
                return true;
            case ShapeKind.Blob:
                return Convert.ToBase64String(new byte[shape.Min ?? 0]);
            case ShapeKind.Timestamp:
                return 1795359458.766m;
            default:
                throw new InvalidOperationException(shape.Kind.ToString());
        }
    }

    private static string StringSample(ModelShape shape)
    {
        if (shape.Enum is { } values)
        {
            return values[0];
        }

        var sample = shape.Pattern is null ? "a" : PatternSamples.TryGetValue(shape.Pattern, out var s)
            ? s : throw new InvalidOperationException($"No sample for pattern {shape.Pattern} ({shape.Name}); add one.");
        while (sample.Length < (shape.Min ?? 0))
        {
            sample += sample[^1];
        }

        return sample;
    }

    private static bool PatternMatches(ModelShape shape, string value) =>
        shape.Pattern is null || Regex.IsMatch(value, @"\A(?:" + shape.Pattern.Replace(@"\d", "[0-9]", StringComparison.Ordinal) + @")\z");

    /// <summary>The errors AWS reports for a string value, in the order enum, pattern, min length, max length.</summary>
    private static List<string> StringErrors(ModelShape shape, string value, string path)
    {
        var errors = new List<string>();
        var prefix = $"Value '{value}' at '{path}' failed to satisfy constraint: ";
        if (shape.Enum is { } values && !values.Contains(value))
        {
            errors.Add(prefix + "Member must satisfy enum value set: [" + string.Join(", ", values) + "]");
        }

        if (!PatternMatches(shape, value))
        {
            errors.Add(prefix + "Member must satisfy regular expression pattern: " + shape.Pattern);
        }

        if (value.Length < shape.Min)
        {
            errors.Add(prefix + "Member must have length greater than or equal to " + shape.Min);
        }

        if (value.Length > shape.Max)
        {
            errors.Add(prefix + "Member must have length less than or equal to " + shape.Max);
        }

        return errors;
    }

    private static IEnumerable<Violation> Violations(ModelShape shape, string path)
    {
        switch (shape.Kind)
        {
            case ShapeKind.String:
                var sample = StringSample(shape);
                var candidates = new List<(string Name, string Value)>();
                if (shape.Enum is not null)
                {
                    candidates.Add(("enum", "NOT_A_MEMBER"));
                }

                if (shape.Pattern is not null)
                {
                    candidates.Add(("pattern", "!"));
                }

                if (shape.Min is > 0)
                {
                    candidates.Add(("min", sample[..(int)(shape.Min.Value - 1)]));
                }

                if (shape.Max is { } max && max < 2_000_000)
                {
                    candidates.Add(("max", sample + new string(sample[^1], (int)(max + 1 - sample.Length))));
                }

                foreach (var (name, value) in candidates)
                {
                    yield return new(name, value, Many(StringErrors(shape, value, path)));
                }

                break;
            case ShapeKind.Integer:
            case ShapeKind.Long:
                if (shape.Min is { } nmin)
                {
                    yield return new("min", nmin - 1, Single($"Value '{nmin - 1}' at '{path}' failed to satisfy constraint: Member must have value greater than or equal to {nmin}"));
                }

                if (shape.Max is { } nmax)
                {
                    yield return new("max", nmax + 1, Single($"Value '{nmax + 1}' at '{path}' failed to satisfy constraint: Member must have value less than or equal to {nmax}"));
                }

                break;
            case ShapeKind.Blob:
                if (shape.Min is > 0)
                {
                    var n = shape.Min.Value - 1;
                    yield return new("min", Convert.ToBase64String(new byte[n]),
                        Single($"Value 'java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]' at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {shape.Min}"));
                }

                if (shape.Max is { } bmax)
                {
                    var n = bmax + 1;
                    yield return new("max", Convert.ToBase64String(new byte[n]),
                        Single($"Value 'java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {bmax}"));
                }

                break;
            case ShapeKind.List:
                var member = shape.ListMember!;
                var scalar = member.Kind is not (ShapeKind.Structure or ShapeKind.List or ShapeKind.Map);
                if (shape.Min is > 0)
                {
                    var items = Enumerable.Range(0, (int)shape.Min.Value - 1).Select(_ => Sample(member, false, 1)).ToArray();
                    yield return new("min", new JsonArray(items), ListExpected(scalar, items, path, $"Member must have length greater than or equal to {shape.Min}"));
                }

                if (shape.Max is { } lmax)
                {
                    var items = Enumerable.Range(0, (int)lmax + 1).Select(_ => Sample(member, false, 1)).ToArray();
                    yield return new("max", new JsonArray(items), ListExpected(scalar, items, path, $"Member must have length less than or equal to {lmax}"));
                }

                if (scalar && member.Kind == ShapeKind.String && (member.Enum is not null || member.Pattern is not null || member.Min is > 0 || member.Max is not null))
                {
                    var good = StringSample(member);
                    var bad = member.Enum is not null ? "NOT_A_MEMBER" : member.Pattern is not null ? "!" : member.Min is > 0 ? "" : new string('a', (int)member.Max!.Value + 1);
                    var parts = new List<string>();
                    if (member.Max is not null)
                    {
                        parts.Add("Member must have length less than or equal to " + member.Max);
                    }

                    if (member.Min is not null)
                    {
                        parts.Add("Member must have length greater than or equal to " + member.Min);
                    }

                    if (member.Pattern is not null)
                    {
                        parts.Add("Member must satisfy regular expression pattern: " + member.Pattern);
                    }

                    if (member.Enum is not null)
                    {
                        parts.Add("Member must satisfy enum value set: [" + string.Join(", ", member.Enum) + "]");
                    }

                    yield return new("member", new JsonArray(good, bad),
                        Single($"Value '[{good}, {bad}]' at '{path}' failed to satisfy constraint: Member must satisfy constraint: [{string.Join(", ", parts)}]"));
                }

                break;
            case ShapeKind.Map:
                if (shape.Min is > 0)
                {
                    yield return new("min", new JsonObject(), Single($"Value '{{}}' at '{path}' failed to satisfy constraint: Member must have length greater than or equal to {shape.Min}"));
                }

                if (shape.Max is { } mmax)
                {
                    var obj = new JsonObject();
                    var text = new StringBuilder("{");
                    for (var i = 0; i <= mmax; i++)
                    {
                        obj["k" + i] = "v";
                        text.Append(i == 0 ? "" : ", ").Append("k").Append(i).Append("=v");
                    }

                    yield return new("max", obj, Single($"Value '{text}}}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to {mmax}"));
                }

                if (shape.MapKey!.Max is { } kmax)
                {
                    var key = new string('k', (int)kmax + 1);
                    yield return new("key", new JsonObject { [key] = "v" },
                        Single($"Value '{{{key}=v}}' at '{path}' failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than or equal to {kmax}, Member must have length greater than or equal to {shape.MapKey.Min}]"));
                }

                if (shape.MapValue!.Max is { } vmax)
                {
                    var value = new string('v', (int)vmax + 1);
                    yield return new("value", new JsonObject { ["k"] = value },
                        Single($"Value '{{k={value}}}' at '{path}' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to {vmax}, Member must have length greater than or equal to {shape.MapValue.Min}]"));
                }

                break;
        }
    }

    private static Expected ListExpected(bool scalar, JsonNode?[] items, string path, string constraint)
    {
        if (scalar)
        {
            var text = string.Join(", ", items.Select(i => i!.GetValue<object>().ToString()));
            return Single($"Value '[{text}]' at '{path}' failed to satisfy constraint: {constraint}");
        }

        // Structure items print as Java object references, so only the end of the message is exact.
        return new("ValidationException", null, $"at '{path}' failed to satisfy constraint: {constraint}");
    }

    private static (JsonNode Value, string Message) WrongType(ModelShape shape) => shape.Kind switch
    {
        ShapeKind.String => (JsonValue.Create(123), "NUMBER_VALUE can not be converted to a String"),
        ShapeKind.Integer => (JsonValue.Create("12"), "STRING_VALUE can not be converted to an Integer"),
        ShapeKind.Long => (JsonValue.Create(true), "TRUE_VALUE can not be converted to an Long"),
        ShapeKind.Double => (JsonValue.Create("1.5"), "STRING_VALUE can not be converted to an Double"),
        ShapeKind.Boolean => (JsonValue.Create(5), "NUMBER_VALUE can not be converted to a Boolean"),
        ShapeKind.Blob => (JsonValue.Create(false), "FALSE_VALUE can not be converted to a Blob"),
        ShapeKind.Timestamp => (JsonValue.Create("2026-01-01T00:00:00Z"), "STRING_VALUE can not be converted to milliseconds since epoch"),
        ShapeKind.List => (new JsonObject(), "Start of structure or map found where not expected."),
        ShapeKind.Map => (new JsonArray(), "Start of list found where not expected"),
        ShapeKind.Structure => (JsonValue.Create("x"), "Expected null"),
        _ => throw new InvalidOperationException(shape.Kind.ToString()),
    };
}
