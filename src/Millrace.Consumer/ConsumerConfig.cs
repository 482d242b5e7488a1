namespace Millrace.Consumer;

/// <summary>Where a lease with no checkpoint starts (the KCL's InitialPositionInStream).</summary>
public enum InitialPositionInStream
{
    Latest,
    TrimHorizon,
    AtTimestamp,
}

/// <summary>How records are read: GetRecords polling, or enhanced fan-out (a registered stream consumer and
/// SubscribeToShard).</summary>
public enum RetrievalMode
{
    Polling,
    FanOut,
}

/// <summary>Settings of a <see cref="Scheduler"/>, with the KCL's names and defaults.</summary>
public sealed class ConsumerConfig
{
    /// <summary>The application: names the lease table and, in fan-out mode, the stream consumer.</summary>
    public required string ApplicationName { get; init; }

    public required string StreamName { get; init; }

    /// <summary>Lease table name; the application name by default.</summary>
    public string? TableName { get; init; }

    /// <summary>Unique per worker process; lease owners are worker ids.</summary>
    public string WorkerId { get; init; } = $"{Environment.MachineName}:{Guid.NewGuid():N}";

    /// <summary>The longest a dead worker's lease stays with it: another worker takes it within this time after the
    /// owner's last renewal (see <see cref="LeaseExpiry"/>).</summary>
    public TimeSpan FailoverTime { get; init; } = TimeSpan.FromMilliseconds(10_000);

    /// <summary>Slack subtracted from the renewal period (the KCL's epsilonMillis).</summary>
    public TimeSpan Epsilon { get; init; } = TimeSpan.FromMilliseconds(25);

    /// <summary>How often leases are renewed: failover/3 − epsilon (3308 ms at the default failover).</summary>
    public TimeSpan RenewerInterval => FailoverTime / 3 - Epsilon;

    /// <summary>How often the lease table is scanned to take expired leases and steal for balance. The KCL waits
    /// (failover + epsilon) × 2 (20 s); Millrace's default is failover / 10 (one small Scan a second at the default).</summary>
    public TimeSpan? LeaseTakerInterval { get; init; }

    internal TimeSpan EffectiveTakerInterval => LeaseTakerInterval ?? FailoverTime / 10;

    /// <summary>How long a lease's counter must stay unchanged, as seen by this worker's scans, before the lease counts as
    /// expired. Expiry is judged from the scan that first saw the last renewal, which is up to one taker interval after
    /// it, and the take happens at the next pass, up to one more interval later; so failover − 4 taker intervals makes
    /// a dead worker's leases move within the failover time of its last renewal, with two intervals to spare for late
    /// timers and slow scans on a busy machine (the KCL waits the whole failover time from that scan, and moves leases up to two taker
    /// intervals late). Never less than two renewal periods, so a live owner that misses one renewal keeps its leases.</summary>
    public TimeSpan LeaseExpiry
    {
        get
        {
            var expiry = FailoverTime - 4 * EffectiveTakerInterval;
            return expiry > 2 * RenewerInterval ? expiry : 2 * RenewerInterval;
        }
    }

    /// <summary>Expired for longer than this multiple of the failover time: taken before other expired leases.</summary>
    public int VeryOldLeaseDurationMultiplier { get; init; } = 3;

    public int MaxLeasesForWorker { get; init; } = int.MaxValue;

    public int MaxLeasesToStealAtOneTime { get; init; } = 1;

    /// <summary>How often the shard list is compared with the lease table.</summary>
    public TimeSpan ShardSyncInterval { get; init; } = TimeSpan.FromMilliseconds(60_000);

    /// <summary>How often a child shard's consumer re-reads its parents' leases while waiting for SHARD_END.</summary>
    public TimeSpan ParentShardPollInterval { get; init; } = TimeSpan.FromMilliseconds(10_000);

    public InitialPositionInStream InitialPosition { get; init; } = InitialPositionInStream.Latest;

    /// <summary>For <see cref="InitialPositionInStream.AtTimestamp"/>.</summary>
    public DateTime? InitialPositionTimestamp { get; init; }

    public RetrievalMode RetrievalMode { get; init; } = RetrievalMode.FanOut;

    /// <summary>Fan-out: the stream consumer's name; the application name by default.</summary>
    public string? ConsumerName { get; init; }

    /// <summary>Polling: GetRecords Limit.</summary>
    public int MaxRecords { get; init; } = 10_000;

    /// <summary>Polling: pause between GetRecords calls of one shard (minimum 200 ms in the KCL; not enforced here so
    /// tests can go faster).</summary>
    public TimeSpan IdleTimeBetweenReads { get; init; } = TimeSpan.FromMilliseconds(1500);

    public bool CallProcessRecordsEvenForEmptyRecordList { get; init; }

    /// <summary>The KCL drops a whole KPL aggregate when one of its user records hashes outside the shard's range
    /// (losing data written by producers that aggregate across shards). Off by default: every user record is
    /// delivered.</summary>
    public bool DropAggregatesOutsideShardHashRange { get; init; }

    /// <summary>Diagnostics: lease events, errors. Null: silent.</summary>
    public Action<string>? Log { get; init; }

    internal string LeaseTableName => TableName ?? ApplicationName;
}
