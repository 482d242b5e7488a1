using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Millrace.Protocol.Wire;

namespace Millrace.Protocol;

/// <summary>
/// Validates a JSON request body against the input shape of a Kinesis operation, using the constraints generated
/// from the AWS service model (<c>Model/kinesis-constraints.json</c>, produced by
/// <c>scripts/generate-kinesis-constraints.py</c>). Wrong JSON types give a <c>SerializationException</c> with the
/// AWS deserializer's wording; constraint failures give a <c>ValidationException</c> worded the way AWS words it
/// ("2 validation errors detected: Value null at 'streamName' failed to satisfy constraint: ...").
/// </summary>
/// <remarks>
/// Two passes: the first walks the document in document order and stops at the first type mismatch (so a type
/// error always wins over constraint errors, as with AWS, which deserializes before it validates); the second walks
/// the model in member order and collects at most <see cref="MaxReportedErrors"/> constraint failures. Unknown
/// members are ignored and JSON nulls count as absent. Neither pass allocates for a valid request.
/// </remarks>
public sealed class ModelValidator
{
    /// <summary>AWS reports at most this many constraint failures in one message (and counts only those).</summary>
    public const int MaxReportedErrors = 10;

    /// <summary>The embedded resource holding the generated constraints.</summary>
    public const string ResourceName = "kinesis-constraints.json";

    private static readonly Lazy<ModelValidator> LazyKinesis = new(LoadEmbedded, LazyThreadSafetyMode.ExecutionAndPublication);

    private static readonly SearchValues<byte> Base64Bytes =
        SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="u8);

    [ThreadStatic]
    private static WalkContext? cachedContext;

    private readonly Dictionary<string, ModelShape?> operations;
    private readonly Dictionary<string, ModelShape> shapes;
    private readonly Dictionary<string, ModelShape?> outputs;

    private ModelValidator(Dictionary<string, ModelShape?> operations, Dictionary<string, ModelShape?> outputs, Dictionary<string, ModelShape> shapes, string targetPrefix)
    {
        this.operations = operations;
        this.outputs = outputs;
        this.shapes = shapes;
        TargetPrefix = targetPrefix;
    }

    /// <summary>The validator for the Kinesis model embedded in this assembly, loaded once.</summary>
    public static ModelValidator Kinesis => LazyKinesis.Value;

    /// <summary>The <c>X-Amz-Target</c> prefix of the model, e.g. <c>Kinesis_20131202</c>.</summary>
    public string TargetPrefix { get; }

    /// <summary>Operation names in the model, sorted ordinally.</summary>
    public IReadOnlyList<string> Operations => [.. operations.Keys.Order(StringComparer.Ordinal)];

    public bool IsKnownOperation(string operation) => operations.ContainsKey(operation);

    /// <summary>The input structure of an operation (null when the operation takes no input).</summary>
    public ModelShape? GetInputShape(string operation) =>
        operations.TryGetValue(operation, out var shape) ? shape : throw new KeyNotFoundException(operation);

    /// <summary>The output structure of an operation (null when the operation returns no output).</summary>
    public ModelShape? GetOutputShape(string operation) =>
        outputs.TryGetValue(operation, out var shape) ? shape : throw new KeyNotFoundException(operation);

    public ModelShape GetShape(string name) => shapes[name];

    /// <summary>Loads a constraints document (the format the generator script writes).</summary>
    public static ModelValidator Load(Stream utf8Json)
    {
        using var document = JsonDocument.Parse(utf8Json);
        var root = document.RootElement;
        var shapes = new Dictionary<string, ModelShape>(StringComparer.Ordinal);
        foreach (var property in root.GetProperty("shapes").EnumerateObject())
        {
            shapes[property.Name] = ModelShape.FromJson(property.Name, property.Value);
        }

        foreach (var property in root.GetProperty("shapes").EnumerateObject())
        {
            var shape = shapes[property.Name];
            var json = property.Value;
            switch (shape.Kind)
            {
                case ShapeKind.Structure:
                    var required = new HashSet<string>(StringComparer.Ordinal);
                    if (json.TryGetProperty("required", out var req))
                    {
                        foreach (var r in req.EnumerateArray())
                        {
                            required.Add(r.GetString()!);
                        }
                    }

                    var members = new List<ModelMember>();
                    if (json.TryGetProperty("members", out var ms))
                    {
                        foreach (var m in ms.EnumerateObject())
                        {
                            members.Add(new ModelMember(m.Name, required.Contains(m.Name)) { Target = shapes[m.Value.GetString()!] });
                        }
                    }

                    shape.MemberArray = [.. members];
                    break;
                case ShapeKind.List:
                    shape.ListMember = shapes[json.GetProperty("member").GetString()!];
                    break;
                case ShapeKind.Map:
                    shape.MapKey = shapes[json.GetProperty("key").GetString()!];
                    shape.MapValue = shapes[json.GetProperty("value").GetString()!];
                    break;
            }

            shape.Prepare();
        }

        var needs = new Dictionary<ModelShape, bool>();
        foreach (var shape in shapes.Values)
        {
            shape.NeedsConstraintWalk = ComputeNeedsWalk(shape, needs, []);
        }

        var operations = new Dictionary<string, ModelShape?>(StringComparer.Ordinal);
        var outputs = new Dictionary<string, ModelShape?>(StringComparer.Ordinal);
        foreach (var op in root.GetProperty("operations").EnumerateObject())
        {
            var input = op.Value.TryGetProperty("input", out var i) && i.ValueKind == JsonValueKind.String ? shapes[i.GetString()!] : null;
            operations[op.Name] = input;
            outputs[op.Name] = op.Value.TryGetProperty("output", out var o) && o.ValueKind == JsonValueKind.String ? shapes[o.GetString()!] : null;
        }

        var prefix = root.TryGetProperty("targetPrefix", out var p) ? p.GetString() ?? "" : "";
        return new ModelValidator(operations, outputs, shapes, prefix);
    }

    /// <summary>
    /// Checks <paramref name="body"/> against the operation's input shape. Returns null when it is valid, else the
    /// exception to send (<c>SerializationException</c>, <c>ValidationException</c>, or
    /// <c>UnknownOperationException</c> for an operation the model does not have).
    /// </summary>
    public KinesisException? Validate(string operation, JsonElement body)
    {
        if (!operations.TryGetValue(operation, out var input))
        {
            return KinesisException.UnknownOperation();
        }

        if (body.ValueKind != JsonValueKind.Object)
        {
            return body.ValueKind == JsonValueKind.Array
                ? KinesisException.Serialization(Messages.StartOfList)
                : KinesisException.Serialization(null);
        }

        if (input is null)
        {
            return null;
        }

        var typeError = CheckStructureTypes(input, body);
        if (typeError is not null)
        {
            return KinesisException.Serialization(typeError);
        }

        if (!input.NeedsConstraintWalk)
        {
            return null;
        }

        var context = cachedContext ??= new WalkContext();
        context.Reset();
        try
        {
            WalkStructure(input, body, context);
            if (context.Errors.Count == 0)
            {
                return null;
            }

            var count = context.Errors.Count;
            var message = count.ToString(CultureInfo.InvariantCulture) + (count == 1 ? " validation error detected: " : " validation errors detected: ")
                + string.Join("; ", context.Errors);
            return KinesisException.Validation(message);
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json decodes a string only when asked: invalid UTF-8 or an unpaired surrogate escape surfaces here.
            return KinesisException.Serialization(JsonText.UndecodableString);
        }
        finally
        {
            context.Reset();
        }
    }

    private static bool ComputeNeedsWalk(ModelShape shape, Dictionary<ModelShape, bool> memo, HashSet<ModelShape> visiting)
    {
        if (memo.TryGetValue(shape, out var known))
        {
            return known;
        }

        if (!visiting.Add(shape))
        {
            return false;
        }

        var result = shape.Kind switch
        {
            ShapeKind.Structure => shape.MemberArray.Any(m => m.Required || ComputeNeedsWalk(m.Target, memo, visiting)),
            ShapeKind.List => shape.Min is not null || shape.Max is not null || ComputeNeedsWalk(shape.ListMember!, memo, visiting),
            ShapeKind.Map => shape.Min is not null || shape.Max is not null || ComputeNeedsWalk(shape.MapKey!, memo, visiting)
                || ComputeNeedsWalk(shape.MapValue!, memo, visiting),
            _ => shape.HasScalarConstraints,
        };
        visiting.Remove(shape);
        memo[shape] = result;
        return result;
    }

    // ---------------------------------------------------------------------------------------------
    // Pass 1: JSON types, in document order.

    private static string? CheckStructureTypes(ModelShape shape, JsonElement obj)
    {
        var members = shape.MemberArray;
        foreach (var property in obj.EnumerateObject())
        {
            var value = property.Value;
            if (value.ValueKind == JsonValueKind.Null)
            {
                continue;
            }

            for (var i = 0; i < members.Length; i++)
            {
                if (property.NameEquals(members[i].Utf8Name))
                {
                    var error = CheckTypes(members[i].Target, value);
                    if (error is not null)
                    {
                        return error;
                    }

                    break;
                }
            }
        }

        return null;
    }

    private static string? CheckTypes(ModelShape shape, JsonElement value)
    {
        var kind = value.ValueKind;
        if (kind == JsonValueKind.Null)
        {
            return null;
        }

        switch (shape.Kind)
        {
            case ShapeKind.Structure:
                return kind switch
                {
                    JsonValueKind.Object => CheckStructureTypes(shape, value),
                    JsonValueKind.Array => Messages.StartOfList,
                    _ => Messages.ExpectedNull,
                };
            case ShapeKind.List:
                if (kind == JsonValueKind.Array)
                {
                    var member = shape.ListMember!;
                    foreach (var item in value.EnumerateArray())
                    {
                        var error = CheckTypes(member, item);
                        if (error is not null)
                        {
                            return error;
                        }
                    }

                    return null;
                }

                return kind == JsonValueKind.Object ? Messages.StartOfStructure : Messages.ExpectedList;
            case ShapeKind.Map:
                if (kind == JsonValueKind.Object)
                {
                    var valueShape = shape.MapValue!;
                    foreach (var property in value.EnumerateObject())
                    {
                        var error = CheckTypes(valueShape, property.Value);
                        if (error is not null)
                        {
                            return error;
                        }
                    }

                    return null;
                }

                return kind == JsonValueKind.Array ? Messages.StartOfList : Messages.ExpectedMap;
            case ShapeKind.String:
                return kind == JsonValueKind.String ? null : Mismatch(kind, "a String");
            case ShapeKind.Integer:
                return kind == JsonValueKind.Number ? null : Mismatch(kind, "an Integer");
            case ShapeKind.Long:
                return kind == JsonValueKind.Number ? null : Mismatch(kind, "an Long");
            case ShapeKind.Double:
                return kind == JsonValueKind.Number ? null : Mismatch(kind, "an Double");
            case ShapeKind.Timestamp:
                return kind == JsonValueKind.Number ? null : Mismatch(kind, "milliseconds since epoch");
            case ShapeKind.Boolean:
                if (kind is JsonValueKind.True or JsonValueKind.False)
                {
                    return null;
                }

                if (kind == JsonValueKind.String)
                {
                    return IsBooleanString(value) ? null : "STRING_VALUE can not be converted to an Boolean";
                }

                return Mismatch(kind, "a Boolean");
            case ShapeKind.Blob:
                return kind == JsonValueKind.String ? CheckBase64(value) : Mismatch(kind, "a Blob");
            default:
                return null;
        }
    }

    private static string Mismatch(JsonValueKind kind, string target) => kind switch
    {
        JsonValueKind.Array => Messages.StartOfList,
        JsonValueKind.Object => Messages.StartOfStructure,
        JsonValueKind.Number => "NUMBER_VALUE can not be converted to " + target,
        JsonValueKind.String => "STRING_VALUE can not be converted to " + target,
        JsonValueKind.True => "TRUE_VALUE can not be converted to " + target,
        JsonValueKind.False => "FALSE_VALUE can not be converted to " + target,
        _ => "Unexpected field type",
    };

    private static bool IsBooleanString(JsonElement value)
    {
        // The AWS JSON deserializer accepts these spellings of a boolean in a string (kinesalite's notes).
        var s = value.GetString()!;
        return s.ToUpperInvariant() is "TRUE" or "FALSE" or "1" or "0" or "YES" or "NO";
    }

    private static string? CheckBase64(JsonElement value)
    {
        string? reason;
        if (TryGetRawString(value, out var raw))
        {
            reason = Base64Problem(raw, out _);
        }
        else
        {
            reason = Base64Problem(Encoding.UTF8.GetBytes(value.GetString()!), out _);
        }

        return reason is null ? null : "'" + value.GetString() + "' can not be converted to a Blob: " + reason;
    }

    /// <summary>Why a base64 text is not acceptable to AWS (null when it is), and the decoded length.</summary>
    internal static string? Base64Problem(ReadOnlySpan<byte> s, out int decodedLength)
    {
        decodedLength = 0;
        if (s.Length % 4 != 0)
        {
            var chars = Encoding.UTF8.GetCharCount(s);
            return "Base64 encoded length is expected a multiple of 4 bytes but found: " + chars.ToString(CultureInfo.InvariantCulture);
        }

        var bad = s.IndexOfAnyExcept(Base64Bytes);
        var firstPad = s.IndexOf((byte)'=');
        if (firstPad >= 0)
        {
            var afterPads = s[firstPad..].IndexOfAnyExcept((byte)'=');
            if (afterPads >= 0)
            {
                var padFollowedByData = firstPad + afterPads - 1;
                if (bad < 0 || padFollowedByData < bad)
                {
                    bad = padFollowedByData;
                }
            }
        }

        if (bad >= 0)
        {
            var c = s[bad] < 0x80 ? ((char)s[bad]).ToString() : FirstChar(s[bad..]);
            return "Invalid Base64 character: '" + c + "'";
        }

        var pads = firstPad < 0 ? 0 : s.Length - firstPad;
        if (pads > 0)
        {
            var lastData = s.Length - pads - 1;
            var invalid = pads > 2 || lastData < 0 || (pads == 1 && (SextetOf(s[lastData]) & 0x3) != 0)
                || (pads == 2 && (SextetOf(s[lastData]) & 0xF) != 0);
            if (invalid)
            {
                return "Invalid last non-pad Base64 character dectected";
            }
        }

        decodedLength = s.Length / 4 * 3 - pads;
        return null;
    }

    private static string FirstChar(ReadOnlySpan<byte> utf8)
    {
        var text = Encoding.UTF8.GetString(utf8[..Math.Min(utf8.Length, 4)]);
        return text.Length == 0 ? "?" : char.IsHighSurrogate(text[0]) && text.Length > 1 ? text[..2] : text[..1];
    }

    private static int SextetOf(byte b) => b switch
    {
        >= (byte)'A' and <= (byte)'Z' => b - 'A',
        >= (byte)'a' and <= (byte)'z' => b - 'a' + 26,
        >= (byte)'0' and <= (byte)'9' => b - '0' + 52,
        (byte)'+' => 62,
        _ => 63,
    };

    /// <summary>The unescaped UTF-8 content of a JSON string without allocating; false when it contains escapes.</summary>
    private static bool TryGetRawString(JsonElement value, out ReadOnlySpan<byte> utf8)
    {
        var raw = JsonMarshal.GetRawUtf8Value(value);
        if (raw.Length >= 2 && raw[0] == (byte)'"')
        {
            raw = raw[1..^1];
        }

        if (raw.IndexOf((byte)'\\') >= 0)
        {
            utf8 = default;
            return false;
        }

        utf8 = raw;
        return true;
    }

    // ---------------------------------------------------------------------------------------------
    // Pass 2: constraints, in model member order.

    private static void WalkStructure(ModelShape shape, JsonElement obj, WalkContext context)
    {
        var members = shape.MemberArray;
        for (var i = 0; i < members.Length && !context.Full; i++)
        {
            var member = members[i];
            if (!obj.TryGetProperty(member.Utf8Name, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                if (member.Required)
                {
                    context.Push(member.PathName);
                    context.Add("null", Messages.NotNull);
                    context.Pop();
                }

                continue;
            }

            if (member.Target.NeedsConstraintWalk)
            {
                context.Push(member.PathName);
                WalkValue(member.Target, value, context);
                context.Pop();
            }
        }
    }

    private static void WalkValue(ModelShape shape, JsonElement value, WalkContext context)
    {
        switch (shape.Kind)
        {
            case ShapeKind.Structure:
                WalkStructure(shape, value, context);
                break;
            case ShapeKind.String:
                WalkString(shape, value, context);
                break;
            case ShapeKind.Integer:
            case ShapeKind.Long:
            case ShapeKind.Double:
                WalkNumber(shape, value, context);
                break;
            case ShapeKind.Blob:
                WalkBlob(shape, value, context);
                break;
            case ShapeKind.List:
                WalkList(shape, value, context);
                break;
            case ShapeKind.Map:
                WalkMap(shape, value, context);
                break;
        }
    }

    private static void WalkString(ModelShape shape, JsonElement value, WalkContext context)
    {
        if (shape.EnumValues is not null && !MatchesEnum(shape, value))
        {
            context.Add(Quote(value.GetString()), shape.EnumText!);
        }

        if (shape.Regex is not null && !MatchesPattern(shape, value))
        {
            context.Add(Quote(value.GetString()), shape.PatternText!);
        }

        if (shape.Min is null && shape.Max is null)
        {
            return;
        }

        var length = StringLength(value);
        if (shape.Min is { } min && length < min)
        {
            context.Add(Quote(value.GetString()), shape.MinText!);
        }

        if (shape.Max is { } max && length > max)
        {
            context.Add(Quote(value.GetString()), shape.MaxText!);
        }
    }

    private static void WalkNumber(ModelShape shape, JsonElement value, WalkContext context)
    {
        if (shape.Kind == ShapeKind.Double)
        {
            var d = value.GetDouble();
            if ((shape.Min is { } dmin && d < dmin) || (shape.Max is { } dmax && d > dmax))
            {
                context.Add(Quote(d.ToString("R", CultureInfo.InvariantCulture)), d < shape.Min ? shape.MinText! : shape.MaxText!);
            }

            return;
        }

        var n = CoerceInteger(shape, value);
        if (shape.Min is { } min && n < min)
        {
            context.Add(Quote(n.ToString(CultureInfo.InvariantCulture)), shape.MinText!);
        }

        if (shape.Max is { } max && n > max)
        {
            context.Add(Quote(n.ToString(CultureInfo.InvariantCulture)), shape.MaxText!);
        }
    }

    /// <summary>The integer AWS reads from a JSON number: fractions floored, clamped to the Java type's range.</summary>
    internal static long CoerceInteger(ModelShape shape, JsonElement value)
    {
        long n;
        if (!value.TryGetInt64(out n))
        {
            var d = value.GetDouble();
            n = double.IsNaN(d) ? 0 : d >= long.MaxValue ? long.MaxValue : d <= long.MinValue ? long.MinValue : (long)Math.Floor(d);
        }

        return shape.Kind == ShapeKind.Integer ? Math.Clamp(n, int.MinValue, int.MaxValue) : n;
    }

    private static void WalkBlob(ModelShape shape, JsonElement value, WalkContext context)
    {
        var length = BlobLength(value);
        if (shape.Min is { } min && length < min)
        {
            context.Add(BlobText(length), shape.MinText!);
        }

        if (shape.Max is { } max && length > max)
        {
            context.Add(BlobText(length), shape.MaxText!);
        }
    }

    private static void WalkList(ModelShape shape, JsonElement value, WalkContext context)
    {
        var count = value.GetArrayLength();
        if (shape.Min is { } min && count < min)
        {
            context.Add(Quote(FormatValue(shape, value)), shape.MinText!);
        }

        if (shape.Max is { } max && count > max)
        {
            context.Add(Quote(FormatValue(shape, value)), shape.MaxText!);
        }

        var member = shape.ListMember!;
        if (!member.NeedsConstraintWalk)
        {
            return;
        }

        if (member.Kind is ShapeKind.Structure or ShapeKind.List or ShapeKind.Map)
        {
            var index = 0;
            foreach (var item in value.EnumerateArray())
            {
                if (context.Full)
                {
                    return;
                }

                index++;
                context.PushIndex(index);
                context.Push("member");
                if (item.ValueKind == JsonValueKind.Null)
                {
                    context.Add("null", Messages.NotNull);
                }
                else
                {
                    WalkValue(member, item, context);
                }

                context.Pop();
                context.Pop();
            }

            return;
        }

        foreach (var item in value.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.Null && !ScalarSatisfies(member, item))
            {
                context.Add(Quote(FormatValue(shape, value)), "Member must satisfy constraint: " + member.ChildConstraintText);
                return;
            }
        }
    }

    private static void WalkMap(ModelShape shape, JsonElement value, WalkContext context)
    {
        if (shape.Min is not null || shape.Max is not null)
        {
            var count = 0;
            foreach (var _ in value.EnumerateObject())
            {
                count++;
            }

            if (shape.Min is { } min && count < min)
            {
                context.Add(Quote(FormatValue(shape, value)), shape.MinText!);
            }

            if (shape.Max is { } max && count > max)
            {
                context.Add(Quote(FormatValue(shape, value)), shape.MaxText!);
            }
        }

        var keyShape = shape.MapKey!;
        if (keyShape.HasScalarConstraints)
        {
            foreach (var property in value.EnumerateObject())
            {
                if (!KeySatisfies(keyShape, property))
                {
                    context.Add(Quote(FormatValue(shape, value)), "Map keys must satisfy constraint: " + keyShape.ChildConstraintText);
                    break;
                }
            }
        }

        var valueShape = shape.MapValue!;
        if (!valueShape.NeedsConstraintWalk)
        {
            return;
        }

        if (valueShape.Kind is ShapeKind.Structure or ShapeKind.List or ShapeKind.Map)
        {
            foreach (var property in value.EnumerateObject())
            {
                if (context.Full)
                {
                    return;
                }

                if (property.Value.ValueKind != JsonValueKind.Null)
                {
                    context.Push(property.Name);
                    WalkValue(valueShape, property.Value, context);
                    context.Pop();
                }
            }

            return;
        }

        foreach (var property in value.EnumerateObject())
        {
            if (property.Value.ValueKind != JsonValueKind.Null && !ScalarSatisfies(valueShape, property.Value))
            {
                context.Add(Quote(FormatValue(shape, value)), "Map value must satisfy constraint: " + valueShape.ChildConstraintText);
                return;
            }
        }
    }

    private static bool ScalarSatisfies(ModelShape shape, JsonElement value)
    {
        switch (shape.Kind)
        {
            case ShapeKind.String:
                if (shape.EnumValues is not null && !MatchesEnum(shape, value))
                {
                    return false;
                }

                if (shape.Regex is not null && !MatchesPattern(shape, value))
                {
                    return false;
                }

                if (shape.Min is null && shape.Max is null)
                {
                    return true;
                }

                var length = StringLength(value);
                return length >= (shape.Min ?? 0) && length <= (shape.Max ?? long.MaxValue);
            case ShapeKind.Integer:
            case ShapeKind.Long:
                var n = CoerceInteger(shape, value);
                return n >= (shape.Min ?? long.MinValue) && n <= (shape.Max ?? long.MaxValue);
            case ShapeKind.Double:
                var d = value.GetDouble();
                return d >= (shape.Min ?? double.MinValue) && d <= (shape.Max ?? double.MaxValue);
            case ShapeKind.Blob:
                var blobLength = BlobLength(value);
                return blobLength >= (shape.Min ?? 0) && blobLength <= (shape.Max ?? long.MaxValue);
            default:
                return true;
        }
    }

    private static bool KeySatisfies(ModelShape shape, JsonProperty property)
    {
        var raw = JsonMarshal.GetRawUtf8PropertyName(property);
        string text = raw.IndexOf((byte)'\\') >= 0 ? property.Name : Encoding.UTF8.GetString(raw);
        if (shape.EnumValues is not null && Array.IndexOf(shape.EnumValues, text) < 0)
        {
            return false;
        }

        if (shape.Regex is not null && !shape.Regex.IsMatch(text))
        {
            return false;
        }

        return text.Length >= (shape.Min ?? 0) && text.Length <= (shape.Max ?? long.MaxValue);
    }

    private static bool MatchesEnum(ModelShape shape, JsonElement value)
    {
        var candidates = shape.Utf8EnumValues!;
        for (var i = 0; i < candidates.Length; i++)
        {
            if (value.ValueEquals(candidates[i]))
            {
                return true;
            }
        }

        return false;
    }

    private static bool MatchesPattern(ModelShape shape, JsonElement value)
    {
        if (!TryGetRawString(value, out var raw))
        {
            return shape.Regex!.IsMatch(value.GetString()!);
        }

        char[]? rented = null;
        var max = raw.Length;
        var buffer = max <= 512 ? stackalloc char[512] : (rented = ArrayPool<char>.Shared.Rent(max));
        try
        {
            var written = Encoding.UTF8.GetChars(raw, buffer);
            return shape.Regex!.IsMatch(buffer[..written]);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    /// <summary>String length as AWS counts it: UTF-16 code units.</summary>
    private static long StringLength(JsonElement value) =>
        TryGetRawString(value, out var raw) ? Encoding.UTF8.GetCharCount(raw) : value.GetString()!.Length;

    private static long BlobLength(JsonElement value)
    {
        int decoded;
        if (TryGetRawString(value, out var raw))
        {
            Base64Problem(raw, out decoded);
        }
        else
        {
            Base64Problem(Encoding.UTF8.GetBytes(value.GetString()!), out decoded);
        }

        return decoded;
    }

    // ---------------------------------------------------------------------------------------------
    // How values are printed in messages (error path only).

    private static string Quote(string? text) => text is null ? "null" : "'" + text + "'";

    private static string BlobText(long length) =>
        "'java.nio.HeapByteBuffer[pos=0 lim=" + length.ToString(CultureInfo.InvariantCulture) + " cap="
        + length.ToString(CultureInfo.InvariantCulture) + "]'";

    /// <summary>A value printed the way the Java service prints it in a validation message (without quotes).</summary>
    internal static string FormatValue(ModelShape shape, JsonElement value)
    {
        if (value.ValueKind == JsonValueKind.Null)
        {
            return "null";
        }

        switch (shape.Kind)
        {
            case ShapeKind.String:
                return value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
            case ShapeKind.Integer:
            case ShapeKind.Long:
                return CoerceInteger(shape, value).ToString(CultureInfo.InvariantCulture);
            case ShapeKind.Blob:
                var length = BlobLength(value);
                return "java.nio.HeapByteBuffer[pos=0 lim=" + length.ToString(CultureInfo.InvariantCulture) + " cap="
                    + length.ToString(CultureInfo.InvariantCulture) + "]";
            case ShapeKind.List:
                var sb = new StringBuilder("[");
                var first = true;
                foreach (var item in value.EnumerateArray())
                {
                    if (!first)
                    {
                        sb.Append(", ");
                    }

                    first = false;
                    sb.Append(FormatValue(shape.ListMember!, item));
                }

                return sb.Append(']').ToString();
            case ShapeKind.Map:
                var map = new StringBuilder("{");
                var firstEntry = true;
                foreach (var property in value.EnumerateObject())
                {
                    if (!firstEntry)
                    {
                        map.Append(", ");
                    }

                    firstEntry = false;
                    map.Append(property.Name).Append('=').Append(FormatValue(shape.MapValue!, property.Value));
                }

                return map.Append('}').ToString();
            case ShapeKind.Structure:
                // Java's Object.toString of the generated request class; the hash is not reproducible, so a
                // stable one derived from the JSON text stands in for it.
                var hash = 0;
                foreach (var c in value.GetRawText())
                {
                    hash = unchecked((31 * hash) + c);
                }

                return "com.amazonaws.kinesis.v20131202." + shape.Name + "@" + hash.ToString("x", CultureInfo.InvariantCulture);
            default:
                return value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText();
        }
    }

    private static ModelValidator LoadEmbedded()
    {
        using var stream = typeof(ModelValidator).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"Embedded resource '{ResourceName}' is missing from Millrace.Protocol.");
        return Load(stream);
    }

    internal static class Messages
    {
        public const string NotNull = "Member must not be null";
        public const string StartOfList = "Start of list found where not expected";
        public const string StartOfStructure = "Start of structure or map found where not expected.";
        public const string ExpectedList = "Expected list or null";
        public const string ExpectedMap = "Expected map or null";
        public const string ExpectedNull = "Expected null";
    }

    /// <summary>Per-thread scratch state of the constraint pass: the current member path and the errors so far.</summary>
    private sealed class WalkContext
    {
        private string?[] names = new string?[16];
        private int[] indexes = new int[16];
        private int depth;

        public List<string> Errors { get; } = new(MaxReportedErrors);

        public bool Full => Errors.Count >= MaxReportedErrors;

        public void Reset()
        {
            depth = 0;
            Errors.Clear();
        }

        public void Push(string name)
        {
            Grow();
            names[depth] = name;
            depth++;
        }

        public void PushIndex(int index)
        {
            Grow();
            names[depth] = null;
            indexes[depth] = index;
            depth++;
        }

        public void Pop() => depth--;

        public void Add(string valueText, string constraint)
        {
            if (Full)
            {
                return;
            }

            var sb = new StringBuilder("Value ").Append(valueText).Append(" at '");
            for (var i = 0; i < depth; i++)
            {
                if (i > 0)
                {
                    sb.Append('.');
                }

                if (names[i] is { } name)
                {
                    sb.Append(name);
                }
                else
                {
                    sb.Append(indexes[i].ToString(CultureInfo.InvariantCulture));
                }
            }

            Errors.Add(sb.Append("' failed to satisfy constraint: ").Append(constraint).ToString());
        }

        private void Grow()
        {
            if (depth == names.Length)
            {
                Array.Resize(ref names, depth * 2);
                Array.Resize(ref indexes, depth * 2);
            }
        }
    }
}
