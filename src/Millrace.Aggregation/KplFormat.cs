namespace Millrace.Aggregation;

/// <summary>Constants of the KPL aggregated record format (<c>aggregation-format.md</c>, <c>messages.proto</c>).</summary>
public static class KplFormat
{
    /// <summary>The 4 bytes an aggregated record starts with.</summary>
    public static ReadOnlySpan<byte> Magic => [0xF3, 0x89, 0x9A, 0xC2];

    public const int MagicLength = 4;

    public const int DigestLength = 16;

    /// <summary>Magic plus MD5 trailer.</summary>
    public const int Overhead = MagicLength + DigestLength;

    /// <summary>The envelope partition key of an aggregate of two or more user records.</summary>
    public const string AggregatePartitionKey = "a";

    // Field tags of AggregatedRecord and Record (proto2): (field number << 3) | wire type.
    internal const uint PartitionKeyTableTag = (1 << 3) | 2;
    internal const uint ExplicitHashKeyTableTag = (2 << 3) | 2;
    internal const uint RecordsTag = (3 << 3) | 2;
    internal const uint RecordPartitionKeyIndexTag = (1 << 3) | 0;
    internal const uint RecordExplicitHashKeyIndexTag = (2 << 3) | 0;
    internal const uint RecordDataTag = (3 << 3) | 2;
}
