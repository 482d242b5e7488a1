using System.Text;
using System.Text.Json;

namespace Millrace.DynamoDb.Model;

/// <summary>The ten DynamoDB data types, named as on the wire.</summary>
public enum AttributeType
{
    S,
    N,
    B,
    BOOL,
    NULL,
    SS,
    NS,
    BS,
    L,
    M,
}

/// <summary>
/// One DynamoDB attribute value. Immutable; sets keep their elements in insertion order but compare as sets.
/// </summary>
public sealed class AttributeValue : IEquatable<AttributeValue>
{
    private AttributeValue(AttributeType type, object? value)
    {
        Type = type;
        Value = value;
    }

    public AttributeType Type { get; }

    private object? Value { get; }

    public string S => (string)Value!;

    public DynamoNumber N => (DynamoNumber)Value!;

    public byte[] B => (byte[])Value!;

    public bool Bool => (bool)Value!;

    public IReadOnlyList<string> SS => (List<string>)Value!;

    public IReadOnlyList<DynamoNumber> NS => (List<DynamoNumber>)Value!;

    public IReadOnlyList<byte[]> BS => (List<byte[]>)Value!;

    public IReadOnlyList<AttributeValue> L => (List<AttributeValue>)Value!;

    public IReadOnlyDictionary<string, AttributeValue> M => (Dictionary<string, AttributeValue>)Value!;

    public static AttributeValue FromS(string s) => new(AttributeType.S, s);

    public static AttributeValue FromN(DynamoNumber n) => new(AttributeType.N, n);

    public static AttributeValue FromB(byte[] b) => new(AttributeType.B, b);

    public static AttributeValue FromBool(bool b) => new(AttributeType.BOOL, b);

    public static AttributeValue Null { get; } = new(AttributeType.NULL, true);

    public static AttributeValue FromSS(IEnumerable<string> values) => new(AttributeType.SS, values.ToList());

    public static AttributeValue FromNS(IEnumerable<DynamoNumber> values) => new(AttributeType.NS, values.ToList());

    public static AttributeValue FromBS(IEnumerable<byte[]> values) => new(AttributeType.BS, values.ToList());

    public static AttributeValue FromL(IEnumerable<AttributeValue> values) => new(AttributeType.L, values.ToList());

    public static AttributeValue FromM(IEnumerable<KeyValuePair<string, AttributeValue>> values) => new(AttributeType.M, new Dictionary<string, AttributeValue>(values, StringComparer.Ordinal));

    public bool IsSet => Type is AttributeType.SS or AttributeType.NS or AttributeType.BS;

    /// <summary>Number of elements of a set.</summary>
    public int SetCount => Type switch
    {
        AttributeType.SS => SS.Count,
        AttributeType.NS => NS.Count,
        AttributeType.BS => BS.Count,
        _ => 0,
    };

    /// <summary>The elements of a set, each as a scalar value (S, N or B).</summary>
    public IEnumerable<AttributeValue> SetElements() => Type switch
    {
        AttributeType.SS => SS.Select(FromS),
        AttributeType.NS => NS.Select(FromN),
        AttributeType.BS => BS.Select(FromB),
        _ => [],
    };

    /// <summary>A set of this value's type from scalar elements.</summary>
    public static AttributeValue SetOf(AttributeType setType, IEnumerable<AttributeValue> elements) => setType switch
    {
        AttributeType.SS => FromSS(elements.Select(e => e.S)),
        AttributeType.NS => FromNS(elements.Select(e => e.N)),
        AttributeType.BS => FromBS(elements.Select(e => e.B)),
        _ => throw new ArgumentOutOfRangeException(nameof(setType)),
    };

    public static AttributeType ElementType(AttributeType setType) => setType switch
    {
        AttributeType.SS => AttributeType.S,
        AttributeType.NS => AttributeType.N,
        AttributeType.BS => AttributeType.B,
        _ => throw new ArgumentOutOfRangeException(nameof(setType)),
    };

    /// <summary>Approximate stored size in bytes, as DynamoDB counts it (names are added by the item).</summary>
    public int Size => Type switch
    {
        AttributeType.S => Encoding.UTF8.GetByteCount(S),
        AttributeType.N => (N.Digits + 1) / 2 + 1,
        AttributeType.B => B.Length,
        AttributeType.BOOL or AttributeType.NULL => 1,
        AttributeType.SS => SS.Sum(Encoding.UTF8.GetByteCount),
        AttributeType.NS => NS.Sum(n => (n.Digits + 1) / 2 + 1),
        AttributeType.BS => BS.Sum(b => b.Length),
        AttributeType.L => 3 + L.Sum(v => v.Size + 1),
        AttributeType.M => 3 + M.Sum(kv => Encoding.UTF8.GetByteCount(kv.Key) + kv.Value.Size + 1),
        _ => 0,
    };

    public bool Equals(AttributeValue? other)
    {
        if (other is null || other.Type != Type)
        {
            return false;
        }

        return Type switch
        {
            AttributeType.S => S == other.S,
            AttributeType.N => N == other.N,
            AttributeType.B => B.AsSpan().SequenceEqual(other.B),
            AttributeType.BOOL => Bool == other.Bool,
            AttributeType.NULL => true,
            AttributeType.SS => SS.Count == other.SS.Count && SS.ToHashSet(StringComparer.Ordinal).SetEquals(other.SS),
            AttributeType.NS => NS.Count == other.NS.Count && NS.ToHashSet().SetEquals(other.NS),
            AttributeType.BS => BS.Count == other.BS.Count && BS.All(b => other.BS.Any(o => o.AsSpan().SequenceEqual(b))),
            AttributeType.L => L.Count == other.L.Count && L.Zip(other.L).All(p => p.First.Equals(p.Second)),
            AttributeType.M => M.Count == other.M.Count && M.All(kv => other.M.TryGetValue(kv.Key, out var o) && kv.Value.Equals(o)),
            _ => false,
        };
    }

    public override bool Equals(object? obj) => obj is AttributeValue v && Equals(v);

    public override int GetHashCode() => Type switch
    {
        AttributeType.S => HashCode.Combine(Type, S),
        AttributeType.N => HashCode.Combine(Type, N),
        AttributeType.BOOL => HashCode.Combine(Type, Bool),
        _ => Type.GetHashCode(),
    };

    /// <summary>Reads a wire AttributeValue ({"S": "…"} etc.), throwing DynamoDB's errors for malformed ones.</summary>
    public static AttributeValue FromJson(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object)
        {
            throw DynamoDbException.Serialization();
        }

        AttributeValue? result = null;
        foreach (var property in json.EnumerateObject())
        {
            if (property.Value.ValueKind == JsonValueKind.Null)
            {
                continue; // some SDKs send unset members as null
            }

            if (result is not null)
            {
                throw DynamoDbException.Validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes");
            }

            result = property.Name switch
            {
                "S" => FromS(String(property.Value)),
                "N" => FromN(DynamoNumber.Parse(String(property.Value))),
                "B" => FromB(Binary(property.Value)),
                "BOOL" => FromBool(property.Value.ValueKind switch
                {
                    JsonValueKind.True => true,
                    JsonValueKind.False => false,
                    _ => throw DynamoDbException.Serialization("NUMBER_VALUE cannot be converted to Boolean"),
                }),
                "NULL" => property.Value.ValueKind == JsonValueKind.True ? Null
                    : throw DynamoDbException.Validation("One or more parameter values were invalid: Null attribute value types must have the value of true"),
                "SS" => FromSS(Set(property.Value, "string", String, StringComparer.Ordinal)),
                "NS" => FromNS(Set(property.Value, "number", e => DynamoNumber.Parse(String(e)), EqualityComparer<DynamoNumber>.Default)),
                "BS" => FromBS(Set(property.Value, "binary", Binary, ByteArrayComparer.Instance)),
                "L" => FromL(Array(property.Value).Select(FromJson)),
                "M" => FromM(Map(property.Value)),
                _ => throw DynamoDbException.Serialization($"Unknown member {property.Name}"),
            };
        }

        return result ?? throw DynamoDbException.Validation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes");
    }

    private static string String(JsonElement e) => e.ValueKind == JsonValueKind.String ? e.GetString()! : throw DynamoDbException.Serialization("Unexpected value type in payload");

    private static byte[] Binary(JsonElement e)
    {
        try
        {
            return Convert.FromBase64String(String(e));
        }
        catch (FormatException)
        {
            throw DynamoDbException.Serialization("Base64 encoded length is expected a multiple of 4 bytes but found: " + String(e).Length);
        }
    }

    private static IEnumerable<JsonElement> Array(JsonElement e) =>
        e.ValueKind == JsonValueKind.Array ? e.EnumerateArray() : throw DynamoDbException.Serialization("Unexpected value type in payload");

    private static IEnumerable<KeyValuePair<string, AttributeValue>> Map(JsonElement e) =>
        e.ValueKind == JsonValueKind.Object
            ? e.EnumerateObject().Select(p => KeyValuePair.Create(p.Name, FromJson(p.Value))).ToList()
            : throw DynamoDbException.Serialization("Unexpected value type in payload");

    private static List<T> Set<T>(JsonElement e, string kind, Func<JsonElement, T> read, IEqualityComparer<T> comparer)
    {
        var values = Array(e).Select(read).ToList();
        if (values.Count == 0)
        {
            throw DynamoDbException.Validation($"One or more parameter values were invalid: An {kind} set  may not be empty");
        }

        if (values.Distinct(comparer).Count() != values.Count)
        {
            throw DynamoDbException.Validation($"One or more parameter values were invalid: Input collection [{string.Join(", ", Array(e).Select(x => x.ToString()))}] contains duplicates.");
        }

        return values;
    }

    public void WriteJson(Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        switch (Type)
        {
            case AttributeType.S:
                writer.WriteString("S", S);
                break;
            case AttributeType.N:
                writer.WriteString("N", N.ToString());
                break;
            case AttributeType.B:
                writer.WriteBase64String("B", B);
                break;
            case AttributeType.BOOL:
                writer.WriteBoolean("BOOL", Bool);
                break;
            case AttributeType.NULL:
                writer.WriteBoolean("NULL", true);
                break;
            case AttributeType.SS:
                writer.WriteStartArray("SS");
                foreach (var s in SS)
                {
                    writer.WriteStringValue(s);
                }

                writer.WriteEndArray();
                break;
            case AttributeType.NS:
                writer.WriteStartArray("NS");
                foreach (var n in NS)
                {
                    writer.WriteStringValue(n.ToString());
                }

                writer.WriteEndArray();
                break;
            case AttributeType.BS:
                writer.WriteStartArray("BS");
                foreach (var b in BS)
                {
                    writer.WriteBase64StringValue(b);
                }

                writer.WriteEndArray();
                break;
            case AttributeType.L:
                writer.WriteStartArray("L");
                foreach (var v in L)
                {
                    v.WriteJson(writer);
                }

                writer.WriteEndArray();
                break;
            case AttributeType.M:
                writer.WriteStartObject("M");
                foreach (var (k, v) in M)
                {
                    writer.WritePropertyName(k);
                    v.WriteJson(writer);
                }

                writer.WriteEndObject();
                break;
            default:
                break;
        }

        writer.WriteEndObject();
    }

    public override string ToString()
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            WriteJson(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private sealed class ByteArrayComparer : IEqualityComparer<byte[]>
    {
        public static readonly ByteArrayComparer Instance = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj)
        {
            var hash = new HashCode();
            hash.AddBytes(obj);
            return hash.ToHashCode();
        }
    }
}
