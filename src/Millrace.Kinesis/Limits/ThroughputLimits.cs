namespace Millrace.Kinesis.Limits;

/// <summary>
/// The figures <c>--enforce-limits</c> applies; the defaults are AWS's. Per-shard figures apply to provisioned
/// streams; an on-demand stream pools <see cref="OnDemandShardMultiple"/> shards' worth of write and read
/// throughput across all its shards (a new on-demand stream on AWS takes 4 MB/s in and 8 MB/s out).
/// </summary>
public sealed class ThroughputLimits
{
    public long ShardWriteBytesPerSecond { get; set; } = 1024 * 1024;

    public long ShardWriteRecordsPerSecond { get; set; } = 1000;

    public long ShardReadBytesPerSecond { get; set; } = 2 * 1024 * 1024;

    public long ShardGetRecordsPerSecond { get; set; } = 5;

    public long ShardGetShardIteratorPerSecond { get; set; } = 5;

    /// <summary>A GetRecords response at least this large throttles the shard's reads for <see cref="ReadPenalty"/>.</summary>
    public long ReadPenaltyBytes { get; set; } = 10 * 1024 * 1024;

    public TimeSpan ReadPenalty { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How many shards' write and read throughput an on-demand stream shares among its shards.</summary>
    public int OnDemandShardMultiple { get; set; } = 4;

    /// <summary>Open shards per account when <c>--shard-limit</c> is not given (AWS's default in us-east-1).</summary>
    public const int DefaultShardLimit = 500;
}
