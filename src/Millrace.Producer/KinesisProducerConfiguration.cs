namespace Millrace.Producer;

/// <summary>
/// Settings with the KPL's names, defaults and ranges (<c>KinesisProducerConfiguration.java</c>), plus the bounds
/// the KPL lacks: <see cref="MaxOutstandingRecords"/> and <see cref="MaxBufferedBytes"/> for back-pressure, and
/// exponential backoff with jitter between attempts (<see cref="RetryBaseDelay"/>, <see cref="RetryMaxDelay"/>).
/// </summary>
public sealed class KinesisProducerConfiguration
{
    /// <summary>Pack user records predicted for the same shard into KPL aggregated records.</summary>
    public bool AggregationEnabled { get; set; } = true;

    /// <summary>User records per aggregated record (1..2^63-1).</summary>
    public long AggregationMaxCount { get; set; } = 4294967295;

    /// <summary>Bytes of one aggregated record (64..10485760); a larger user record is sent on its own.</summary>
    public long AggregationMaxSize { get; set; } = 51200;

    /// <summary>Kinesis records per PutRecords call (1..500).</summary>
    public int CollectionMaxCount { get; set; } = 500;

    /// <summary>Bytes of one PutRecords call (min 52224); a larger record is still sent, alone.</summary>
    public long CollectionMaxSize { get; set; } = 5242880;

    /// <summary>Largest user record (partition key and data) accepted (64..10485760).</summary>
    public long MaxUserRecordSize { get; set; } = 1048576;

    /// <summary>How long a record may wait in the buffer for others to join it before it is sent.</summary>
    public TimeSpan RecordMaxBufferedTime { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>A record not put within this time fails with error code <c>Expired</c> (min 100 ms).</summary>
    public TimeSpan RecordTtl { get; set; } = TimeSpan.FromMilliseconds(30000);

    /// <summary>Per-shard token bucket as a percentage of the shard's 1000 records/s and 1 MiB/s.</summary>
    public long RateLimit { get; set; } = 150;

    /// <summary>HTTP connections to the endpoint (1..256), and so PutRecords calls in flight.</summary>
    public int MaxConnections { get; set; } = 24;

    /// <summary>Fail a record at once on ProvisionedThroughputExceededException instead of retrying.</summary>
    public bool FailIfThrottled { get; set; }

    /// <summary>Timeout of one request (100 ms..600 s).</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromMilliseconds(6000);

    /// <summary>Back-pressure: user records accepted and not yet completed. When reached, adding awaits room.</summary>
    public int MaxOutstandingRecords { get; set; } = 200_000;

    /// <summary>Back-pressure: bytes (partition keys and data) of the user records outstanding.</summary>
    public long MaxBufferedBytes { get; set; } = 256L * 1024 * 1024;

    /// <summary>First retry waits about this long; each further retry doubles it, with jitter.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    /// <summary>Cap of one retry wait.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Checks the ranges and throws ArgumentOutOfRangeException for a value the KPL would refuse.</summary>
    public void Validate()
    {
        Check(AggregationMaxCount is >= 1, nameof(AggregationMaxCount), "1..2^63-1");
        Check(AggregationMaxSize is >= 64 and <= 10485760, nameof(AggregationMaxSize), "64..10485760");
        Check(CollectionMaxCount is >= 1 and <= 500, nameof(CollectionMaxCount), "1..500");
        Check(CollectionMaxSize >= 52224, nameof(CollectionMaxSize), ">= 52224");
        Check(MaxUserRecordSize is >= 64 and <= 10485760, nameof(MaxUserRecordSize), "64..10485760");
        Check(RecordMaxBufferedTime >= TimeSpan.Zero, nameof(RecordMaxBufferedTime), ">= 0");
        Check(RecordTtl >= TimeSpan.FromMilliseconds(100), nameof(RecordTtl), ">= 100 ms");
        Check(RateLimit is >= 1 and <= 9223372036854775807, nameof(RateLimit), "1..2^63-1");
        Check(MaxConnections is >= 1 and <= 256, nameof(MaxConnections), "1..256");
        Check(RequestTimeout >= TimeSpan.FromMilliseconds(100) && RequestTimeout <= TimeSpan.FromSeconds(600), nameof(RequestTimeout), "100 ms..600 s");
        Check(MaxOutstandingRecords >= 1, nameof(MaxOutstandingRecords), ">= 1");
        Check(MaxBufferedBytes >= 1, nameof(MaxBufferedBytes), ">= 1");
        Check(RetryBaseDelay >= TimeSpan.Zero && RetryMaxDelay >= RetryBaseDelay, nameof(RetryMaxDelay), ">= RetryBaseDelay >= 0");
    }

    private static void Check(bool ok, string name, string range)
    {
        if (!ok)
        {
            throw new ArgumentOutOfRangeException(name, $"{name} must be {range}.");
        }
    }
}
