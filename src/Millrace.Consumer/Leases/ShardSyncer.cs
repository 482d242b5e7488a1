using Millrace.Client;

namespace Millrace.Consumer.Leases;

/// <summary>Creates leases for shards that have none (the KCL's HierarchicalShardSyncer, simplified): a new
/// application leases the root shards at the initial position (every open shard for LATEST; shards without parents in
/// the stream for TRIM_HORIZON and AT_TIMESTAMP); a shard whose parents are leased gets its lease, at TRIM_HORIZON,
/// only when every such parent has checkpointed SHARD_END (normally the worker that ended the parent creates it).</summary>
public sealed class ShardSyncer(IKinesisClient kinesis, ILeaseRefresher refresher, ConsumerConfig config)
{
    public async Task<List<Shard>> ListAllShardsAsync(CancellationToken cancellationToken)
    {
        var shards = new List<Shard>();
        string? next = null;
        do
        {
            var page = await kinesis.ListShardsAsync(next is null
                ? new ListShardsRequest { StreamName = config.StreamName }
                : new ListShardsRequest { NextToken = next }, cancellationToken).ConfigureAwait(false);
            shards.AddRange(page.Shards ?? []);
            next = page.NextToken;
        }
        while (next is not null);
        return shards;
    }

    /// <summary>One sync pass; returns the number of leases created.</summary>
    public async Task<int> SyncAsync(CancellationToken cancellationToken)
    {
        var shards = await ListAllShardsAsync(cancellationToken).ConfigureAwait(false);
        var leases = (await refresher.ListLeasesAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(l => l.LeaseKey);
        var byId = shards.ToDictionary(s => s.ShardId!);
        var covered = new Dictionary<string, bool>();

        IEnumerable<string> ParentsInStream(Shard s) =>
            new[] { s.ParentShardId, s.AdjacentParentShardId }.OfType<string>().Where(byId.ContainsKey);

        // A shard is covered when it has a lease or descends from a covered shard: its data will be reached through
        // its ancestors, so it must not be leased as a root.
        bool Covered(string shardId)
        {
            if (covered.TryGetValue(shardId, out var known))
                return known;
            covered[shardId] = false; // cycle guard
            var result = leases.ContainsKey(shardId) || ParentsInStream(byId[shardId]).Any(Covered);
            covered[shardId] = result;
            return result;
        }

        var created = 0;
        foreach (var shard in shards)
        {
            var id = shard.ShardId!;
            if (leases.ContainsKey(id))
                continue;
            var coveredParents = ParentsInStream(shard).Where(Covered).ToList();
            ExtendedSequenceNumber start;
            if (coveredParents.Count > 0)
            {
                if (!coveredParents.All(p => leases.TryGetValue(p, out var parent) && parent.IsShardEnd))
                    continue;
                start = ExtendedSequenceNumber.TrimHorizon;
            }
            else if (config.InitialPosition == InitialPositionInStream.Latest)
            {
                if (shard.SequenceNumberRange?.EndingSequenceNumber is not null)
                    continue; // closed before this application started: nothing new will arrive there
                start = ExtendedSequenceNumber.Latest;
            }
            else
            {
                if (ParentsInStream(shard).Any())
                    continue; // reached through its parents
                start = config.InitialPosition == InitialPositionInStream.AtTimestamp ? ExtendedSequenceNumber.AtTimestamp : ExtendedSequenceNumber.TrimHorizon;
            }
            var lease = NewLease(id, [.. new[] { shard.ParentShardId, shard.AdjacentParentShardId }.OfType<string>()], shard.HashKeyRange, start);
            if (await refresher.CreateLeaseIfNotExistsAsync(lease, cancellationToken).ConfigureAwait(false))
            {
                created++;
                leases[id] = lease;
                config.Log?.Invoke($"lease created: {id} at {start}");
            }
        }
        return created;
    }

    /// <summary>At the end of a shard: leases for its children (at TRIM_HORIZON; they wait for all their parents) and
    /// childShardIds on the parent.</summary>
    public async Task CreateChildLeasesAsync(Lease parent, IReadOnlyList<ChildShard> children, CancellationToken cancellationToken)
    {
        foreach (var child in children)
        {
            var lease = NewLease(child.ShardId!, [.. child.ParentShards ?? [parent.LeaseKey]], child.HashKeyRange, ExtendedSequenceNumber.TrimHorizon);
            if (await refresher.CreateLeaseIfNotExistsAsync(lease, cancellationToken).ConfigureAwait(false))
                config.Log?.Invoke($"lease created: {lease.LeaseKey} (child of {string.Join(',', lease.ParentShardIds)})");
        }
        var update = parent.Copy();
        update.ChildShardIds.UnionWith(children.Select(c => c.ShardId!));
        await refresher.UpdateChildShardIdsAsync(update, cancellationToken).ConfigureAwait(false);
    }

    private static Lease NewLease(string shardId, HashSet<string> parents, HashKeyRange? range, ExtendedSequenceNumber checkpoint) => new()
    {
        LeaseKey = shardId,
        Checkpoint = checkpoint,
        ParentShardIds = parents,
        StartingHashKey = range?.StartingHashKey,
        EndingHashKey = range?.EndingHashKey,
    };
}
