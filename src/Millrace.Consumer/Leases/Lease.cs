namespace Millrace.Consumer.Leases;

/// <summary>One row of the lease table (KCL attribute names in <see cref="LeaseAttributes"/>), plus the local-only
/// fields the KCL keeps in memory (never stored).</summary>
public sealed class Lease
{
    public required string LeaseKey { get; init; }
    public string? LeaseOwner { get; set; }
    public long LeaseCounter { get; set; }
    public long OwnerSwitchesSinceCheckpoint { get; set; }
    public ExtendedSequenceNumber? Checkpoint { get; set; }
    public ExtendedSequenceNumber? PendingCheckpoint { get; set; }
    public byte[]? PendingCheckpointState { get; set; }
    public HashSet<string> ParentShardIds { get; init; } = [];
    public HashSet<string> ChildShardIds { get; init; } = [];
    public string? StartingHashKey { get; set; }
    public string? EndingHashKey { get; set; }

    /// <summary>Local: Stopwatch timestamp at which this worker last saw <see cref="LeaseCounter"/> change (expiry is
    /// judged on the local clock only, never by comparing hosts' clocks).</summary>
    public long LastCounterIncrementTimestamp { get; set; }

    /// <summary>Shard id of a single-stream lease: the lease key.</summary>
    public string ShardId => LeaseKey;

    public bool IsShardEnd => Checkpoint is { IsShardEnd: true };

    public Lease Copy() => new()
    {
        LeaseKey = LeaseKey,
        LeaseOwner = LeaseOwner,
        LeaseCounter = LeaseCounter,
        OwnerSwitchesSinceCheckpoint = OwnerSwitchesSinceCheckpoint,
        Checkpoint = Checkpoint,
        PendingCheckpoint = PendingCheckpoint,
        PendingCheckpointState = PendingCheckpointState,
        ParentShardIds = [.. ParentShardIds],
        ChildShardIds = [.. ChildShardIds],
        StartingHashKey = StartingHashKey,
        EndingHashKey = EndingHashKey,
        LastCounterIncrementTimestamp = LastCounterIncrementTimestamp,
    };

    public override string ToString() => $"{LeaseKey} owner={LeaseOwner ?? "-"} counter={LeaseCounter} checkpoint={Checkpoint}";
}

/// <summary>The lease table's attribute names, exactly as the KCL writes them.</summary>
public static class LeaseAttributes
{
    public const string LeaseKey = "leaseKey";
    public const string LeaseOwner = "leaseOwner";
    public const string LeaseCounter = "leaseCounter";
    public const string OwnerSwitchesSinceCheckpoint = "ownerSwitchesSinceCheckpoint";
    public const string Checkpoint = "checkpoint";
    public const string CheckpointSubSequenceNumber = "checkpointSubSequenceNumber";
    public const string PendingCheckpoint = "pendingCheckpoint";
    public const string PendingCheckpointSubSequenceNumber = "pendingCheckpointSubSequenceNumber";
    public const string PendingCheckpointState = "pendingCheckpointState";
    public const string ParentShardId = "parentShardId";
    public const string ChildShardIds = "childShardIds";
    public const string StartingHashKey = "startingHashKey";
    public const string EndingHashKey = "endingHashKey";
    public const string CheckpointOwner = "checkpointOwner";
    public const string EntityType = "entityType";
}
