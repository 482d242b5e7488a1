using Millrace.Server.Tests.Limits;

namespace Millrace.Server.Tests.Fidelity;

/// <summary>
/// <c>--enforce-limits</c>: data-plane ProvisionedThroughputExceededException, control-plane
/// LimitExceededException and the shard quota, on a server with small per-shard figures (<see cref="LimitsFixture"/>).
/// Each burst is far over its budget, so the result does not depend on how fast the machine is.
/// </summary>
public sealed class ThrottlingCases : FidelityCaseFamily
{
    private static FidelityCase Limited(string name, string operation) => new(name, operation)
    {
        Source = "",
        Server = FidelityServer.EnforceLimits,
        Request = _ => null,
        ExpectedType = null,
        Message = null,
    };

    public override IEnumerable<FidelityCase> Cases()
    {
        yield return Limited("Throttling.PutRecordsBurstIntoOneShard", "PutRecords") with
        {
            Source = "4.3: 5 MiB burst into 1 shard in <1 s (PTE on failed entries)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new
            {
                StreamName = c.Stream,
                Records = Enumerable.Range(0, 500).Select(_ => new { PartitionKey = "k", Data = Convert.ToBase64String(new byte[2048]) }).ToArray(),
            },
            PerEntry = true,
            Status = 200,
            ExpectedType = "ProvisionedThroughputExceededException",
            Message = Expect.WriteThrottled(),
        };
        yield return Limited("Throttling.PutRecordOverShardBytes", "PutRecord") with
        {
            Source = "model: PutRecord PTE (1 MiB/s per shard)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, PartitionKey = "k", Data = Convert.ToBase64String(new byte[LimitsFixture.WriteBytesPerSecond / 3]) },
            Burst = 8,
            ExpectedType = "ProvisionedThroughputExceededException",
            Message = Expect.WriteThrottled(),
        };
        yield return Limited("Throttling.GetRecordsEightBackToBack", "GetRecords") with
        {
            Source = "4.3: GetRecords x8 back-to-back (PTE after 5/s)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                c.Values["it"] = await c.IteratorAsync();
            },
            Request = c => new { ShardIterator = c.Values["it"] },
            Burst = 8,
            ExpectedType = "ProvisionedThroughputExceededException",
            Message = @"Rate exceeded for Shard - {account}/{stream}/shardId-000000000000",
        };
        yield return Limited("Throttling.GetRecordsAfterLargeResponse", "GetRecords") with
        {
            Source = "model: GetRecords PTE (calls within 5 s of a 10 MiB response; threshold lowered here)",
            Setup = async c =>
            {
                await c.CreateStreamAsync();
                await c.PutAsync(Convert.ToBase64String(new byte[LimitsFixture.ReadPenaltyBytes]));
                var first = await c.OkAsync("GetRecords", new { ShardIterator = await c.IteratorAsync() });
                c.Values["it"] = first["NextShardIterator"]!.GetValue<string>();
            },
            Request = c => new { ShardIterator = c.Values["it"] },
            ExpectedType = "ProvisionedThroughputExceededException",
            Message = @"Rate exceeded for Shard - {account}/{stream}/shardId-000000000000",
        };
        yield return Limited("Throttling.GetShardIteratorBurst", "GetShardIterator") with
        {
            Source = "model: GetShardIterator PTE (5 per second per shard)",
            Setup = c => c.CreateStreamAsync(),
            Request = c => new { StreamName = c.Stream, ShardId = "shardId-000000000000", ShardIteratorType = "LATEST" },
            Burst = 12,
            ExpectedType = "ProvisionedThroughputExceededException",
            Message = Expect.WriteThrottled(),
        };
        yield return Limited("Throttling.CreateStreamRate", "CreateStream") with
        {
            Source = "model: CreateStream LE (5 per second per account)",
            Request = c => new { StreamName = c.Stream, ShardCount = 1 },
            Burst = 15,
            ExpectedType = "LimitExceededException",
            Message = Expect.StreamRateExceeded,
        };
        yield return Limited("Throttling.CreateStreamShardQuota", "CreateStream") with
        {
            Source = "model: CreateStream LE (shard quota, 500 by default with --enforce-limits)",
            Request = c => new { StreamName = c.Stream, ShardCount = 501 },
            ExpectedType = "LimitExceededException",
            Message = @"This request would exceed the shard limit for the account {account} in {region}\. Current shard count for the account: \d+\. Limit: 500\. Number of additional shards that would have resulted from this request: 501\.",
        };
        yield return Limited("Throttling.DeleteStreamRate", "DeleteStream") with
        {
            Source = "model: DeleteStream LE (5 per second per account)",
            Request = c => new { StreamName = c.Stream },
            Burst = 15,
            ExpectedType = "LimitExceededException",
            Message = Expect.StreamRateExceeded,
        };
        yield return Limited("Throttling.DescribeStreamRate", "DescribeStream") with
        {
            Source = "model: DescribeStream LE (10 per second per account)",
            Request = c => new { StreamName = c.Stream },
            Burst = 30,
            ExpectedType = "LimitExceededException",
            Message = Expect.StreamRateExceeded,
        };
        yield return Limited("Throttling.DescribeStreamSummaryRate", "DescribeStreamSummary") with
        {
            Source = "model: DescribeStreamSummary LE (20 per second per account)",
            Request = c => new { StreamARN = c.StreamArn },
            Burst = 60,
            ExpectedType = "LimitExceededException",
            Message = Expect.StreamRateExceeded,
        };
        yield return Limited("Throttling.ListStreamsRate", "ListStreams") with
        {
            Source = "model: ListStreams LE (5 per second per account)",
            Request = _ => new { },
            Burst = 15,
            ExpectedType = "LimitExceededException",
            Message = @"Rate exceeded for account {account}\.",
        };

        // ListShards (1000 per second per stream) is left out: a burst that surely beats a 1000/s refill would
        // take longer than this table should; ControlPlaneLimiter applies it like the others.
    }
}
