using System.Globalization;

namespace Millrace.Kinesis;

/// <summary>Shard ids: <c>shardId-</c> plus a 12-digit zero-padded index.</summary>
public static class ShardIds
{
    private const string Prefix = "shardId-";

    public static string Format(int index) => Prefix + index.ToString("D12", CultureInfo.InvariantCulture);

    /// <summary>Accepts <c>shardId-000000000001</c> and, as AWS does, the bare index forms (<c>1</c>, <c>shardId-1</c>).</summary>
    public static bool TryParse(string text, out int index)
    {
        var digits = text.StartsWith(Prefix, StringComparison.Ordinal) ? text.AsSpan(Prefix.Length) : text.AsSpan();
        return int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out index);
    }
}
