using System.Globalization;
using System.Numerics;

namespace Millrace.Consumer;

/// <summary>A checkpoint position: a Kinesis sequence number (or a sentinel: TRIM_HORIZON, LATEST, AT_TIMESTAMP,
/// SHARD_END) and the sub-sequence number of a user record inside a KPL aggregate (0 for plain records).</summary>
public readonly record struct ExtendedSequenceNumber(string SequenceNumber, long SubSequenceNumber = 0) : IComparable<ExtendedSequenceNumber>
{
    public const string TrimHorizonValue = "TRIM_HORIZON";
    public const string LatestValue = "LATEST";
    public const string AtTimestampValue = "AT_TIMESTAMP";
    public const string ShardEndValue = "SHARD_END";

    public static readonly ExtendedSequenceNumber TrimHorizon = new(TrimHorizonValue);
    public static readonly ExtendedSequenceNumber Latest = new(LatestValue);
    public static readonly ExtendedSequenceNumber AtTimestamp = new(AtTimestampValue);
    public static readonly ExtendedSequenceNumber ShardEnd = new(ShardEndValue);

    public bool IsSentinel => SequenceNumber is TrimHorizonValue or LatestValue or AtTimestampValue or ShardEndValue;

    public bool IsShardEnd => SequenceNumber == ShardEndValue;

    /// <summary>Sentinels before a real position sort first, SHARD_END last; real positions by sequence number (a
    /// decimal of up to 128 bits), then sub-sequence number.</summary>
    public int CompareTo(ExtendedSequenceNumber other)
    {
        int rank = Rank(SequenceNumber), otherRank = Rank(other.SequenceNumber);
        if (rank != otherRank)
            return rank.CompareTo(otherRank);
        if (rank != 1)
            return 0;
        var bySequence = ParseSequence(SequenceNumber).CompareTo(ParseSequence(other.SequenceNumber));
        return bySequence != 0 ? bySequence : SubSequenceNumber.CompareTo(other.SubSequenceNumber);
    }

    public static bool operator <(ExtendedSequenceNumber a, ExtendedSequenceNumber b) => a.CompareTo(b) < 0;
    public static bool operator >(ExtendedSequenceNumber a, ExtendedSequenceNumber b) => a.CompareTo(b) > 0;
    public static bool operator <=(ExtendedSequenceNumber a, ExtendedSequenceNumber b) => a.CompareTo(b) <= 0;
    public static bool operator >=(ExtendedSequenceNumber a, ExtendedSequenceNumber b) => a.CompareTo(b) >= 0;

    private static int Rank(string sequenceNumber) => sequenceNumber switch
    {
        TrimHorizonValue or LatestValue or AtTimestampValue => 0,
        ShardEndValue => 2,
        _ => 1,
    };

    internal static BigInteger ParseSequence(string sequenceNumber) =>
        BigInteger.TryParse(sequenceNumber, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= 0
            ? value
            : throw new ArgumentException($"'{sequenceNumber}' is not a sequence number", nameof(sequenceNumber));

    /// <summary>True for a non-negative decimal or a sentinel.</summary>
    public static bool IsValidSequenceNumber(string? value) =>
        value is TrimHorizonValue or LatestValue or AtTimestampValue or ShardEndValue
        || (!string.IsNullOrEmpty(value) && value.Length <= 128 && value.All(char.IsAsciiDigit));

    public override string ToString() => SubSequenceNumber == 0 ? SequenceNumber : $"{SequenceNumber}/{SubSequenceNumber}";
}
