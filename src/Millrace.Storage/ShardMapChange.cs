namespace Millrace.Storage;

/// <summary>
/// A resharding (SplitShard, MergeShards, UpdateShardCount) accepted but not yet applied: the stream is UPDATING
/// and still routes by its current shards. Persisted so that a restart can carry it out.
/// </summary>
public sealed record ShardMapChange
{
    /// <summary>Open shards the change closes.</summary>
    public required IReadOnlyList<int> ClosingShardIndexes { get; init; }

    /// <summary>Shards the change creates, in index order, with their lineage. Short-lived intermediate shards of
    /// UpdateShardCount are created already Closed (they never receive records).</summary>
    public required IReadOnlyList<ShardDescription> NewShards { get; init; }
}
