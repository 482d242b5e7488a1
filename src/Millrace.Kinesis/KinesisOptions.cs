using Millrace.Kinesis.Limits;

namespace Millrace.Kinesis;

/// <summary>What the Kinesis service is told by its host (the server's options extend these).</summary>
public class KinesisOptions
{
    public string Region { get; set; } = "us-east-1";

    public string AccountId { get; set; } = "000000000000";

    /// <summary>How long a new stream stays CREATING before it becomes ACTIVE.</summary>
    public TimeSpan CreateStreamDelay { get; set; } = TimeSpan.Zero;

    /// <summary>How long a deleted stream stays DELETING before it is gone.</summary>
    public TimeSpan DeleteStreamDelay { get; set; } = TimeSpan.Zero;

    /// <summary>How long a resharded stream (SplitShard, MergeShards, UpdateShardCount) stays UPDATING before the
    /// new shards take over.</summary>
    public TimeSpan UpdateStreamDelay { get; set; } = TimeSpan.Zero;

    /// <summary>Open shards per account (AWS's default quota in us-east-1 is 500; 0 means no limit).</summary>
    public int ShardLimit { get; set; }

    /// <summary>On-demand streams per account (AWS's default quota is 50; 0 means no limit).</summary>
    public int OnDemandStreamCountLimit { get; set; } = 50;

    /// <summary>Throttle as AWS does (per-shard throughput, control-plane rates); off by default.</summary>
    public bool EnforceLimits { get; set; }

    /// <summary>The figures <see cref="EnforceLimits"/> applies.</summary>
    public ThroughputLimits Limits { get; set; } = new();

    public TimeProvider Clock { get; set; } = TimeProvider.System;
}
