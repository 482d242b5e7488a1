namespace Millrace.Server.Tests.Fidelity;

/// <summary>ListShards and GetShardIterator.</summary>
public sealed class ShardCases : FidelityCaseFamily
{
    private const string IteratorTypes = "AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or";

    public override IEnumerable<FidelityCase> Cases()
    {
        // ListShards: AD ENT IA LE RIU RNF (RIU needs a stream that is not ACTIVE yet: not on these servers)
        yield return new("ListShards.NeitherNameNorToken", "ListShards")
        {
            Source = "model: ListShards IA",
            Request = _ => new { },
            ExpectedType = "InvalidArgumentException",
            Message = @"Either NextToken or StreamName should be provided\.",
        };
        yield return new("ListShards.TokenAndName", "ListShards")
        {
            Source = "model: ListShards IA",
            Request = c => new { StreamName = c.Stream, NextToken = "bm90LWEtdG9rZW4=" },
            ExpectedType = "InvalidArgumentException",
            Message = @"NextToken and StreamName cannot be provided together\.",
        };
        yield return new("ListShards.TokenAndExclusiveStart", "ListShards")
        {
            Source = "model: ListShards IA",
            Request = _ => new { NextToken = "bm90LWEtdG9rZW4=", ExclusiveStartShardId = "shardId-000000000000" },
            ExpectedType = "InvalidArgumentException",
            Message = @"NextToken cannot be provided together with ExclusiveStartShardId or StreamCreationTimestamp\.",
        };
        yield return new("ListShards.InvalidToken", "ListShards")
        {
            Source = "model: ListShards IA",
            Request = _ => new { NextToken = "bm90LWEtdG9rZW4=" },
            ExpectedType = "InvalidArgumentException",
            Message = @"Invalid NextToken\.",
        };
        yield return new("ListShards.AfterShardIdWithoutShardId", "ListShards")
        {
            Source = "model: ListShards IA (ShardFilter)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardFilter = new { Type = "AFTER_SHARD_ID" } },
            ExpectedType = "InvalidArgumentException",
            Message = @"ShardId must be specified when ShardFilter type is AFTER_SHARD_ID\.",
        };
        yield return new("ListShards.ExpiredToken", "ListShards")
        {
            Source = "model: ListShards ENT",
            Server = FidelityServer.ManualClock,
            Setup = async c =>
            {
                await c.CreateStreamAsync(shards: 2);
                var page = await c.OkAsync("ListShards", new { StreamName = c.Stream, MaxResults = 1 });
                c.Values["token"] = page["NextToken"]!.GetValue<string>();
                c.Clock.Advance(TimeSpan.FromSeconds(301));
            },
            Request = c => new { NextToken = c.Values["token"] },
            ExpectedType = "ExpiredNextTokenException",
            Message = @"The timestamp on the NextToken has expired\.",
        };
        yield return new("ListShards.NotFound", "ListShards")
        {
            Source = "model: ListShards RNF",
            Request = c => new { StreamName = c.Stream },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("ListShards.MaxResultsZero", "ListShards")
        {
            Source = "model: ListShards VE (MaxResults 1-10000)",
            Request = c => new { StreamName = c.Stream, MaxResults = 0 },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("maxResults", "must have value greater than or equal to 1", "'0'"),
        };

        // GetShardIterator: AD DR IF IA PTE RNF
        yield return new("GetShardIterator.BadIteratorType", "GetShardIterator")
        {
            Source = "4.3: Bad ShardIteratorType",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardId = "shardId-000000000000", ShardIteratorType = "OLDEST" },
            ExpectedType = "ValidationException",
            Message = Expect.Validation("shardIteratorType", @"must satisfy enum value set: \[.*\]", "'OLDEST'"),
        };
        yield return new("GetShardIterator.MissingShardId", "GetShardIterator")
        {
            Source = "4.3: Missing required field",
            Request = c => new { StreamName = c.Stream, ShardIteratorType = "LATEST" },
            ExpectedType = "ValidationException",
            Message = Expect.NotNull("shardId"),
        };
        yield return new("GetShardIterator.UnknownShard", "GetShardIterator")
        {
            Source = "model: GetShardIterator RNF",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardId = "shardId-000000000009", ShardIteratorType = "LATEST" },
            ExpectedType = "ResourceNotFoundException",
            Message = @"Shard shardId-000000000009 in stream {stream} under account {account} does not exist",
        };
        yield return new("GetShardIterator.StreamNotFound", "GetShardIterator")
        {
            Source = "model: GetShardIterator RNF",
            Request = c => new { StreamName = c.Stream, ShardId = "shardId-000000000000", ShardIteratorType = "LATEST" },
            ExpectedType = "ResourceNotFoundException",
            Message = Expect.StreamNotFound,
        };
        yield return new("GetShardIterator.AtSequenceWithoutNumber", "GetShardIterator")
        {
            Source = "model: GetShardIterator IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardId = "shardId-000000000000", ShardIteratorType = "AT_SEQUENCE_NUMBER" },
            ExpectedType = "InvalidArgumentException",
            Message = @$"Must either specify \(1\) {IteratorTypes} \(2\) TRIM_HORIZON or LATEST and no StartingSequenceNumber\. Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber\.",
        };
        yield return new("GetShardIterator.TrimHorizonWithNumber", "GetShardIterator")
        {
            Source = "model: GetShardIterator IA",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                c.Values["seq"] = await c.PutAsync();
            },
            Request = c => new { StreamName = c.Stream, ShardId = "shardId-000000000000", ShardIteratorType = "TRIM_HORIZON", StartingSequenceNumber = c.Values["seq"] },
            ExpectedType = "InvalidArgumentException",
            Message = @$"Must either specify \(1\) {IteratorTypes} \(2\) TRIM_HORIZON or LATEST and no StartingSequenceNumber\. Request specified TRIM_HORIZON and also a StartingSequenceNumber\.",
        };
        yield return new("GetShardIterator.UnparseableSequenceNumber", "GetShardIterator")
        {
            Source = "model: GetShardIterator IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardId = "shardId-000000000000", ShardIteratorType = "AT_SEQUENCE_NUMBER", StartingSequenceNumber = "1" },
            ExpectedType = "InvalidArgumentException",
            Message = @"StartingSequenceNumber 1 used in GetShardIterator on shard shardId-000000000000 in stream {stream} under account {account} is invalid\.",
        };
        yield return new("GetShardIterator.SequenceNumberOfAnotherShard", "GetShardIterator")
        {
            Source = "model: GetShardIterator IA",
            Setup = async c =>
            {
                await c.CreateStreamAsync(shards: 2);
                var put = await c.OkAsync("PutRecord", new { StreamName = c.Stream, PartitionKey = "k", ExplicitHashKey = "0", Data = "eA==" });
                c.Values["seq"] = put["SequenceNumber"]!.GetValue<string>();
            },
            Request = c => new { StreamName = c.Stream, ShardId = "shardId-000000000001", ShardIteratorType = "AT_SEQUENCE_NUMBER", StartingSequenceNumber = c.Values["seq"] },
            ExpectedType = "InvalidArgumentException",
            Message = @"Invalid StartingSequenceNumber\. It encodes shardId-000000000000, while it was used in a call to a shard with shardId-000000000001",
        };
        yield return new("GetShardIterator.AtTimestampWithoutTimestamp", "GetShardIterator")
        {
            Source = "model: GetShardIterator IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardId = "shardId-000000000000", ShardIteratorType = "AT_TIMESTAMP" },
            ExpectedType = "InvalidArgumentException",
            Message = @"Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP\. Current request has no timestamp parameter\.",
        };
        yield return new("GetShardIterator.TimestampWithLatest", "GetShardIterator")
        {
            Source = "model: GetShardIterator IA",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardId = "shardId-000000000000", ShardIteratorType = "LATEST", Timestamp = 1_700_000_000 },
            ExpectedType = "InvalidArgumentException",
            Message = @"Must specify timestampInMillis parameter only for iterator of type AT_TIMESTAMP\. Current request has iterator type LATEST\.",
        };
    }
}
