namespace Millrace.Storage;

/// <summary>Persisted description of a stream. The catalog stores it as JSON, so new optional members can be added
/// by later features without a format change.</summary>
public sealed record StreamDescription
{
    /// <summary>Internal id, unique for the life of the data directory; assigned by the catalog.</summary>
    public long StreamId { get; init; }

    public long Version { get; init; }

    public required string StreamName { get; init; }

    /// <summary>CREATING, ACTIVE, UPDATING or DELETING.</summary>
    public required string Status { get; init; }

    /// <summary>PROVISIONED or ON_DEMAND.</summary>
    public required string StreamMode { get; init; }

    public required long CreatedAtMs { get; init; }

    /// <summary>When the current status was entered (drives the CREATING/DELETING delays).</summary>
    public long StatusChangedAtMs { get; init; }

    public int RetentionPeriodHours { get; init; } = 24;

    /// <summary>Records that arrived before this (epoch ms) stay expired even after the retention period is
    /// increased (IncreaseStreamRetentionPeriod does not bring expired data back).</summary>
    public long ExpiredBeforeMs { get; init; }

    public string EncryptionType { get; init; } = "NONE";

    public string? KeyId { get; init; }

    /// <summary>The key id KeyId resolved to when encryption started; new records are encrypted under it.</summary>
    public string? ResolvedKeyId { get; init; }

    public int MaxRecordSizeInKiB { get; init; } = 1024;

    public IReadOnlyList<ShardDescription> Shards { get; init; } = [];

    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>Next unused shard index (children of resharding take the next ones).</summary>
    public int NextShardIndex { get; init; }

    /// <summary>Registered enhanced fan-out consumers (RegisterStreamConsumer).</summary>
    public IReadOnlyList<ConsumerDescription> Consumers { get; init; } = [];

    /// <summary>Enhanced monitoring: the shard-level metric names enabled.</summary>
    public IReadOnlyList<string> ShardLevelMetrics { get; init; } = [];

    /// <summary>The resource policy document attached to the stream, if any.</summary>
    public string? ResourcePolicy { get; init; }

    /// <summary>On-demand warm throughput target (MiB/s), if set.</summary>
    public int? WarmThroughputMiBps { get; init; }

    /// <summary>USER_PARTITION_KEY (default) or AUTO.</summary>
    public string RecordDistributionStrategy { get; init; } = "USER_PARTITION_KEY";

    /// <summary>When UpdateShardCount calls were made (epoch ms), for the rolling-day limit.</summary>
    public IReadOnlyList<long> ScalingHistoryMs { get; init; } = [];

    /// <summary>A resharding waiting to be applied while the stream is UPDATING, or null.</summary>
    public ShardMapChange? PendingShardChange { get; init; }

    /// <summary>When encryption was started or stopped (epoch ms), for the rolling-day limit.</summary>
    public IReadOnlyList<long> EncryptionChangesMs { get; init; } = [];
}

/// <summary>A registered enhanced fan-out consumer of a stream.</summary>
public sealed record ConsumerDescription
{
    public required string ConsumerName { get; init; }

    /// <summary>Creation time; its epoch seconds are the ARN's suffix (…/consumer/name:epochSeconds).</summary>
    public required long CreatedAtMs { get; init; }

    /// <summary>CREATING, ACTIVE or DELETING.</summary>
    public required string Status { get; init; }

    /// <summary>When the current status was entered (drives the CREATING/DELETING delays).</summary>
    public long StatusChangedAtMs { get; init; }

    public IReadOnlyDictionary<string, string> Tags { get; init; } = new Dictionary<string, string>();

    /// <summary>PutResourcePolicy on the consumer ARN: the document as given.</summary>
    public string? ResourcePolicy { get; init; }
}

/// <summary>Persisted description of one shard. Hash keys are decimal strings of unsigned 128-bit values.</summary>
public sealed record ShardDescription
{
    public required int ShardIndex { get; init; }

    public required string StartingHashKey { get; init; }

    public required string EndingHashKey { get; init; }

    /// <summary>Log position at shard creation; every record of the shard has a greater position.</summary>
    public required ulong StartingPosition { get; init; }

    /// <summary>Position of the last record when the shard was closed (StartingPosition when it had none); null
    /// while open, and while closing (Closed but not yet sealed in the record log).</summary>
    public ulong? EndingPosition { get; init; }

    public bool Closed { get; init; }

    public long CreatedAtMs { get; init; }

    public long? ClosedAtMs { get; init; }

    public int? ParentShardIndex { get; init; }

    public int? AdjacentParentShardIndex { get; init; }
}
