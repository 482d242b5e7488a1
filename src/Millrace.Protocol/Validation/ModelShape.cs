using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Millrace.Protocol;

/// <summary>The shape kinds of the AWS JSON model that a Kinesis input can contain.</summary>
public enum ShapeKind
{
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Double,
    Boolean,
    Blob,
    Timestamp,
}

/// <summary>A structure member: the wire name, its lowerCamelCase path name and its target shape.</summary>
public sealed class ModelMember
{
    internal ModelMember(string name, bool required)
    {
        Name = name;
        PathName = name.Length == 0 ? name : char.ToLowerInvariant(name[0]) + name[1..];
        Utf8Name = Encoding.UTF8.GetBytes(name);
        Required = required;
    }

    public string Name { get; }

    /// <summary>The member name as AWS prints it in validation paths (first letter lowered).</summary>
    public string PathName { get; }

    public bool Required { get; }

    public ModelShape Target { get; internal set; } = null!;

    internal byte[] Utf8Name { get; }
}

/// <summary>One shape of the service model with the constraints that request validation needs.</summary>
public sealed class ModelShape
{
    private static readonly ModelMember[] NoMembers = [];

    internal ModelShape(string name, ShapeKind kind)
    {
        Name = name;
        Kind = kind;
    }

    public string Name { get; }

    public ShapeKind Kind { get; }

    /// <summary>Minimum length (strings, blobs, lists, maps) or minimum value (numbers).</summary>
    public long? Min { get; internal set; }

    /// <summary>Maximum length (strings, blobs, lists, maps) or maximum value (numbers).</summary>
    public long? Max { get; internal set; }

    public string? Pattern { get; internal set; }

    public IReadOnlyList<string>? Enum => EnumValues;

    /// <summary>Structure members in model order.</summary>
    public IReadOnlyList<ModelMember> Members => MemberArray;

    public ModelShape? ListMember { get; internal set; }

    public ModelShape? MapKey { get; internal set; }

    public ModelShape? MapValue { get; internal set; }

    internal ModelMember[] MemberArray { get; set; } = NoMembers;

    internal string[]? EnumValues { get; set; }

    internal byte[][]? Utf8EnumValues { get; set; }

    internal Regex? Regex { get; set; }

    /// <summary>"Member must satisfy enum value set: [A, B]" (precomputed).</summary>
    internal string? EnumText { get; set; }

    internal string? PatternText { get; set; }

    internal string? MinText { get; set; }

    internal string? MaxText { get; set; }

    /// <summary>"[Member must ..., Member must ...]": how a list of scalars or a map reports its children's constraints.</summary>
    internal string? ChildConstraintText { get; set; }

    /// <summary>True when a scalar of this shape has anything to check.</summary>
    internal bool HasScalarConstraints => Min is not null || Max is not null || Regex is not null || EnumValues is not null;

    /// <summary>True when a value of this shape (or anything below it) can fail a constraint.</summary>
    internal bool NeedsConstraintWalk { get; set; }

    internal bool IsNumeric => Kind is ShapeKind.Integer or ShapeKind.Long or ShapeKind.Double;

    internal bool IsLengthKind => Kind is ShapeKind.String or ShapeKind.Blob or ShapeKind.List or ShapeKind.Map;

    internal static ShapeKind ParseKind(string type) => type switch
    {
        "structure" => ShapeKind.Structure,
        "list" => ShapeKind.List,
        "map" => ShapeKind.Map,
        "string" => ShapeKind.String,
        "integer" => ShapeKind.Integer,
        "long" => ShapeKind.Long,
        "double" or "float" => ShapeKind.Double,
        "boolean" => ShapeKind.Boolean,
        "blob" => ShapeKind.Blob,
        "timestamp" => ShapeKind.Timestamp,
        _ => throw new InvalidDataException($"Unsupported shape type '{type}'."),
    };

    /// <summary>Compiles a model pattern the way the Java service applies it: anchored to the whole value, ASCII \d.</summary>
    internal static Regex CompilePattern(string pattern)
    {
        var sb = new StringBuilder(pattern.Length + 16);
        sb.Append(@"\A(?:");
        var inClass = false;
        for (var i = 0; i < pattern.Length; i++)
        {
            var c = pattern[i];
            if (c == '\\' && i + 1 < pattern.Length)
            {
                var next = pattern[i + 1];
                if (next == 'd')
                {
                    sb.Append(inClass ? "0-9" : "[0-9]");
                }
                else
                {
                    sb.Append(c).Append(next);
                }

                i++;
                continue;
            }

            if (c == '[')
            {
                inClass = true;
            }
            else if (c == ']')
            {
                inClass = false;
            }

            sb.Append(c);
        }

        sb.Append(@")\z");
        return new Regex(sb.ToString(), RegexOptions.Compiled | RegexOptions.CultureInvariant);
    }

    internal static ModelShape FromJson(string name, JsonElement json)
    {
        var shape = new ModelShape(name, ParseKind(json.GetProperty("type").GetString()!));
        if (json.TryGetProperty("min", out var min))
        {
            shape.Min = min.GetInt64();
        }

        if (json.TryGetProperty("max", out var max))
        {
            shape.Max = max.GetInt64();
        }

        if (json.TryGetProperty("pattern", out var pattern))
        {
            shape.Pattern = pattern.GetString();
        }

        if (json.TryGetProperty("enum", out var values))
        {
            var list = new List<string>();
            foreach (var v in values.EnumerateArray())
            {
                list.Add(v.GetString()!);
            }

            shape.EnumValues = [.. list];
        }

        return shape;
    }

    internal void Prepare()
    {
        var lengthWord = IsLengthKind ? "length" : "value";
        if (Min is { } min)
        {
            MinText = $"Member must have {lengthWord} greater than or equal to {min}";
        }

        if (Max is { } max)
        {
            MaxText = $"Member must have {lengthWord} less than or equal to {max}";
        }

        if (Pattern is not null)
        {
            PatternText = "Member must satisfy regular expression pattern: " + Pattern;
            Regex = CompilePattern(Pattern);
        }

        if (EnumValues is not null)
        {
            EnumText = "Member must satisfy enum value set: [" + string.Join(", ", EnumValues) + "]";
            Utf8EnumValues = new byte[EnumValues.Length][];
            for (var i = 0; i < EnumValues.Length; i++)
            {
                Utf8EnumValues[i] = Encoding.UTF8.GetBytes(EnumValues[i]);
            }
        }

        if (Kind != ShapeKind.Structure && HasScalarConstraints)
        {
            var parts = new List<string>(4);
            if (MaxText is not null)
            {
                parts.Add(MaxText);
            }

            if (MinText is not null)
            {
                parts.Add(MinText);
            }

            if (PatternText is not null)
            {
                parts.Add(PatternText);
            }

            if (EnumText is not null)
            {
                parts.Add(EnumText);
            }

            ChildConstraintText = "[" + string.Join(", ", parts) + "]";
        }
    }
}
