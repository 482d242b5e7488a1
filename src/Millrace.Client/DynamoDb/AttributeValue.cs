using System.Globalization;

namespace Millrace.Client.DynamoDb;

/// <summary>A DynamoDB attribute value: exactly one of the members is set, named as the DynamoDB JSON wire names them.</summary>
public sealed class AttributeValue
{
    public string? S { get; set; }
    public string? N { get; set; }
    public byte[]? B { get; set; }
    public bool? BOOL { get; set; }
    public bool? NULL { get; set; }
    public List<string>? SS { get; set; }
    public List<string>? NS { get; set; }
    public List<byte[]>? BS { get; set; }
    public List<AttributeValue>? L { get; set; }
    public Dictionary<string, AttributeValue>? M { get; set; }

    public static AttributeValue FromS(string value) => new() { S = value };
    public static AttributeValue FromN(long value) => new() { N = value.ToString(CultureInfo.InvariantCulture) };
    public static AttributeValue FromN(string value) => new() { N = value };
    public static AttributeValue FromB(byte[] value) => new() { B = value };
    public static AttributeValue FromBool(bool value) => new() { BOOL = value };
    public static AttributeValue FromSS(IEnumerable<string> values) => new() { SS = [.. values] };

    /// <summary>The N value as a long (throws when this is not an integral number).</summary>
    public long AsLong() => long.Parse(N ?? throw new InvalidOperationException("not a number attribute"), NumberStyles.Integer, CultureInfo.InvariantCulture);

    public override string ToString() =>
        S is not null ? $"S:{S}" : N is not null ? $"N:{N}" : B is not null ? $"B:{Convert.ToBase64String(B)}"
        : BOOL is not null ? $"BOOL:{BOOL}" : NULL is not null ? "NULL" : SS is not null ? $"SS:[{string.Join(',', SS)}]"
        : NS is not null ? $"NS:[{string.Join(',', NS)}]" : L is not null ? $"L:[{L.Count}]" : M is not null ? $"M:{{{M.Count}}}" : "(empty)";
}
