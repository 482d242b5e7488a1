namespace Millrace.Server.Tests.Fidelity;

/// <summary>SplitShard, MergeShards, UpdateShardCount, and the 4.3 rows about reading and listing after a split.</summary>
public sealed class ReshardingCases : FidelityCaseFamily
{
    private const string Half = "170141183460469231731687303715884105728";

    public override IEnumerable<FidelityCase> Cases()
    {
        // SplitShard: AD IA LE RIU RNF VE
        yield return new("SplitShard.KeyOutsideParent", "SplitShard")
        {
            Source = "model: SplitShard IA (key must lie inside the parent's range)",
            Setup = c => c.CreateStreamAsync(2),
            Request = c => new { StreamName = c.Stream, ShardToSplit = "shardId-000000000000", NewStartingHashKey = Half },
            ExpectedType = "InvalidArgumentException",
            Message = @"NewStartingHashKey 170141183460469231731687303715884105728 used in SplitShard\(\) on shard shardId-000000000000 in stream {stream} under account {account} is not both greater than one plus the shard's StartingHashKey 0 .*",
        };
        yield return new("SplitShard.UnknownShard", "SplitShard")
        {
            Source = "model: SplitShard RNF",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardToSplit = "shardId-000000000007", NewStartingHashKey = "12345" },
            ExpectedType = "ResourceNotFoundException",
            Message = @"Could not find shard shardId-000000000007 in stream {stream} under account {account}\.",
        };
        yield return new("SplitShard.StreamNotFound", "SplitShard")
        {
            Source = "model: SplitShard RNF",
            Request = c => new { StreamName = c.Stream, ShardToSplit = "shardId-000000000000", NewStartingHashKey = "12345" },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("SplitShard.ClosedParent", "SplitShard")
        {
            Source = "model: SplitShard IA (a closed shard is not eligible)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await c.OkAsync("SplitShard", new { StreamName = c.Stream, ShardToSplit = "shardId-000000000000", NewStartingHashKey = Half });
            },
            Request = c => new { StreamName = c.Stream, ShardToSplit = "shardId-000000000000", NewStartingHashKey = "12345" },
            ExpectedType = "InvalidArgumentException",
            Message = @"Shard shardId-000000000000 in stream {stream} under account {account} has already been merged or split, and thus is not eligible for merging or splitting\.",
        };
        yield return new("SplitShard.OnDemand", "SplitShard")
        {
            Source = "model: SplitShard VE (provisioned capacity mode only)",
            Setup = c => c.OkAsync("CreateStream", new { StreamName = c.Stream, StreamModeDetails = new { StreamMode = "ON_DEMAND" } }),
            Request = c => new { StreamName = c.Stream, ShardToSplit = "shardId-000000000000", NewStartingHashKey = "12345" },
            ExpectedType = "ValidationException",
            Message = @"SplitShard is not supported for stream {stream} under account {account} because it is in ON_DEMAND capacity mode\..*",
        };

        // MergeShards: AD IA LE RIU RNF VE
        yield return new("MergeShards.NotAdjacent", "MergeShards")
        {
            Source = "model: MergeShards IA (hash ranges must be contiguous)",
            Setup = c => c.CreateStreamAsync(3),
            Request = c => new { StreamName = c.Stream, ShardToMerge = "shardId-000000000000", AdjacentShardToMerge = "shardId-000000000002" },
            ExpectedType = "InvalidArgumentException",
            Message = @"Shards shardId-000000000000 and shardId-000000000002 in stream {stream} under account {account} are not an adjacent pair of shards eligible for merging",
        };
        yield return new("MergeShards.UnknownShard", "MergeShards")
        {
            Source = "model: MergeShards RNF",
            Setup = c => c.CreateStreamAsync(2),
            Request = c => new { StreamName = c.Stream, ShardToMerge = "shardId-000000000000", AdjacentShardToMerge = "shardId-000000000005" },
            ExpectedType = "ResourceNotFoundException",
            Message = @"Could not find shard shardId-000000000005 in stream {stream} under account {account}\.",
        };

        // UpdateShardCount: AD IA LE RIU RNF VE
        yield return new("UpdateShardCount.MoreThanDouble", "UpdateShardCount")
        {
            Source = "model: UpdateShardCount LE (at most double)",
            Setup = c => c.CreateStreamAsync(2),
            Request = c => new { StreamName = c.Stream, TargetShardCount = 5, ScalingType = "UNIFORM_SCALING" },
            ExpectedType = "LimitExceededException",
            Message = @"UpdateShardCount cannot scale up over double your current open shard count\. Current open shard count: 2, Target shard count: 5",
        };
        yield return new("UpdateShardCount.LessThanHalf", "UpdateShardCount")
        {
            Source = "model: UpdateShardCount LE (at least half)",
            Setup = c => c.CreateStreamAsync(4),
            Request = c => new { StreamName = c.Stream, TargetShardCount = 1, ScalingType = "UNIFORM_SCALING" },
            ExpectedType = "LimitExceededException",
            Message = @"UpdateShardCount cannot scale down below half your current open shard count\. Current open shard count: 4, Target shard count: 1",
        };
        yield return new("UpdateShardCount.BadScalingType", "UpdateShardCount")
        {
            Source = "model: ScalingType enum",
            Setup = c => c.CreateStreamAsync(2),
            Request = c => new { StreamName = c.Stream, TargetShardCount = 3, ScalingType = "LINEAR" },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("scalingType", @"must satisfy enum value set: \[UNIFORM_SCALING\]", "'LINEAR'"),
        };
        yield return new("UpdateShardCount.Succeeds", "UpdateShardCount")
        {
            Source = "model: UpdateShardCount output",
            Setup = c => c.CreateStreamAsync(2),
            Request = c => new { StreamName = c.Stream, TargetShardCount = 3, ScalingType = "UNIFORM_SCALING" },
            ExpectedType = null,
            Status = 200,
            Message = @".*""CurrentShardCount"":2.*""TargetShardCount"":3.*",
        };

        // Section 4.3 rows about resharding.
        yield return new("ListShards.AtLatestAfterSplit", "ListShards")
        {
            Source = "4.3: After split: ListShards AT_LATEST gives open children only",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await c.OkAsync("SplitShard", new { StreamName = c.Stream, ShardToSplit = "shardId-000000000000", NewStartingHashKey = Half });
            },
            Request = c => new { StreamName = c.Stream, ShardFilter = new { Type = "AT_LATEST" } },
            ExpectedType = null,
            Status = 200,
            Message = @"\{""Shards"":\[\{""ShardId"":""shardId-000000000001"",""ParentShardId"":""shardId-000000000000"".*\},\{""ShardId"":""shardId-000000000002"",""ParentShardId"":""shardId-000000000000"".*\}\]\}",
        };
        yield return new("GetRecords.DrainedClosedParent", "GetRecords")
        {
            Source = "4.3: Draining a closed parent: records, then no NextShardIterator + ChildShards",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await c.PutAsync();
                var iterator = await c.IteratorAsync();
                await c.OkAsync("SplitShard", new { StreamName = c.Stream, ShardToSplit = "shardId-000000000000", NewStartingHashKey = Half });
                var page = await c.OkAsync("GetRecords", new { ShardIterator = iterator });
                c.Values["iterator"] = page["NextShardIterator"]!.GetValue<string>();
            },
            Request = c => new { ShardIterator = c.Values["iterator"] },
            ExpectedType = null,
            Status = 200,
            Message = @"\{""Records"":\[\],""MillisBehindLatest"":0,""ChildShards"":\[\{""ShardId"":""shardId-000000000001"",""ParentShards"":\[""shardId-000000000000""\].*\},\{""ShardId"":""shardId-000000000002"".*\}\]\}",
        };
    }
}
