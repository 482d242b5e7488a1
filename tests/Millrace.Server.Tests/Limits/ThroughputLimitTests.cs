using System.Net;
using System.Text.RegularExpressions;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Limits;

/// <summary>
/// <c>--enforce-limits</c> against a real server with small configured figures: bursts far over a budget get
/// throttled with AWS's errors, traffic under it never does, and without the flag nothing is throttled. No test
/// measures time; the budgets are small enough that a burst exceeds them however fast the machine is.
/// </summary>
public sealed class ThroughputLimitTests(LimitsFixture fixture) : IClassFixture<LimitsFixture>
{
    private const string Account = "000000000000";

    private static object Batch(string stream, int records, int bytes, string key = "k") => new
    {
        StreamName = stream,
        Records = Enumerable.Range(0, records).Select(i => new { PartitionKey = key, Data = Convert.ToBase64String(new byte[bytes]) }).ToArray(),
    };

    private static async Task<string> NewStreamAsync(KinesisJsonClient client, string prefix, int shards = 1)
    {
        var name = ServerFixture.UniqueName(prefix);
        await LimitsFixture.CreateStreamAsync(client, new { StreamName = name, ShardCount = shards });
        return name;
    }

    private static async Task<string> IteratorAsync(KinesisJsonClient client, string stream) =>
        (await client.OkAsync("GetShardIterator", new { StreamName = stream, ShardId = "shardId-000000000000", ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();

    [Fact]
    public async Task PutRecordsBurstOverTheShardBudgetFailsSomeEntriesAndWritesTheRest()
    {
        using var client = new KinesisJsonClient(fixture.Limited.Endpoint);
        var name = await NewStreamAsync(client, "burst");

        var response = await client.OkAsync("PutRecords", Batch(name, 200, 10));
        var records = response["Records"]!.AsArray();
        int failed = response["FailedRecordCount"]!.GetValue<int>();
        Assert.Equal(200, records.Count);
        Assert.InRange(failed, 200 - (2 * LimitsFixture.WriteRecordsPerSecond), 199);
        Assert.Equal(failed, records.Count(r => r!["ErrorCode"] is not null));
        var message = new Regex($"^Rate exceeded for shard shardId-000000000000 in stream {name} under account {Account}\\.$");
        foreach (var r in records)
        {
            if (r!["ErrorCode"] is { } code)
            {
                Assert.Equal("ProvisionedThroughputExceededException", code.GetValue<string>());
                Assert.Matches(message, r["ErrorMessage"]!.GetValue<string>());
                Assert.Null(r["SequenceNumber"]);
            }
            else
            {
                Assert.Equal("shardId-000000000000", r["ShardId"]!.GetValue<string>());
                Assert.NotNull(r["SequenceNumber"]);
            }
        }

        // Only the admitted entries were written, in order, with the sequence numbers the response gave them.
        var read = await client.OkAsync("GetRecords", new { ShardIterator = await IteratorAsync(client, name) });
        var written = records.Where(r => r!["ErrorCode"] is null).Select(r => r!["SequenceNumber"]!.GetValue<string>()).ToList();
        Assert.Equal(written, read["Records"]!.AsArray().Select(r => r!["SequenceNumber"]!.GetValue<string>()).ToList());
    }

    [Fact]
    public async Task TrafficUnderTheBudgetIsNeverThrottled()
    {
        using var client = new KinesisJsonClient(fixture.Limited.Endpoint);
        var name = await NewStreamAsync(client, "trickle");
        int under = LimitsFixture.WriteRecordsPerSecond / 5;
        for (int i = 0; i < 4; i++)
        {
            var response = await client.OkAsync("PutRecords", Batch(name, under, 100));
            Assert.Equal(0, response["FailedRecordCount"]!.GetValue<int>());
        }

        var iterator = await IteratorAsync(client, name);
        for (int i = 0; i < 4; i++)
        {
            var read = await client.OkAsync("GetRecords", new { ShardIterator = iterator, Limit = under });
            Assert.Equal(under, read["Records"]!.AsArray().Count);
            iterator = read["NextShardIterator"]!.GetValue<string>();
        }
    }

    [Fact]
    public async Task PutRecordOverTheByteBudgetIsProvisionedThroughputExceeded()
    {
        using var client = new KinesisJsonClient(fixture.Limited.Endpoint);
        var name = await NewStreamAsync(client, "bytes");
        // Eight records of a third of the byte budget each, at once: over twice the budget even after a second of refill.
        var data = Convert.ToBase64String(new byte[LimitsFixture.WriteBytesPerSecond / 3]);
        var responses = await Task.WhenAll(Enumerable.Range(0, 8)
            .Select(_ => client.CallAsync("PutRecord", new { StreamName = name, PartitionKey = "k", Data = data })));

        var throttled = responses.Where(r => r.Status != HttpStatusCode.OK).ToList();
        Assert.NotEmpty(throttled);
        Assert.Contains(responses, r => r.Status == HttpStatusCode.OK);
        Assert.All(throttled, r =>
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.Status);
            Assert.Equal("ProvisionedThroughputExceededException", r.ErrorType);
            Assert.Equal($"Rate exceeded for shard shardId-000000000000 in stream {name} under account {Account}.", r.ErrorMessage);
        });
    }

    [Fact]
    public async Task PutRecordOverTheRecordBudgetIsProvisionedThroughputExceeded()
    {
        using var client = new KinesisJsonClient(fixture.Limited.Endpoint);
        var name = await NewStreamAsync(client, "count");
        var responses = await Task.WhenAll(Enumerable.Range(0, 3 * LimitsFixture.WriteRecordsPerSecond)
            .Select(_ => client.CallAsync("PutRecord", new { StreamName = name, PartitionKey = "k", Data = "AA==" })));

        var throttled = responses.Where(r => r.Status != HttpStatusCode.OK).ToList();
        Assert.NotEmpty(throttled);
        Assert.True(responses.Count(r => r.Status == HttpStatusCode.OK) >= LimitsFixture.WriteRecordsPerSecond);
        Assert.All(throttled, r =>
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.Status);
            Assert.Equal("ProvisionedThroughputExceededException", r.ErrorType);
        });
    }

    [Fact]
    public async Task SixGetRecordsInABurstAreThrottled()
    {
        using var client = new KinesisJsonClient(fixture.Limited.Endpoint);
        var name = await NewStreamAsync(client, "reads");
        var iterator = await IteratorAsync(client, name);
        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => client.CallAsync("GetRecords", new { ShardIterator = iterator })));

        var throttled = responses.Where(r => r.Status != HttpStatusCode.OK).ToList();
        Assert.NotEmpty(throttled);
        Assert.All(throttled, r =>
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.Status);
            Assert.Equal("ProvisionedThroughputExceededException", r.ErrorType);
            Assert.Equal($"Rate exceeded for Shard - {Account}/{name}/shardId-000000000000", r.ErrorMessage);
        });
    }

    [Fact]
    public async Task GetShardIteratorBurstIsThrottled()
    {
        using var client = new KinesisJsonClient(fixture.Limited.Endpoint);
        var name = await NewStreamAsync(client, "iters");
        var responses = await Task.WhenAll(Enumerable.Range(0, 8)
            .Select(_ => client.CallAsync("GetShardIterator", new { StreamName = name, ShardId = "shardId-000000000000", ShardIteratorType = "LATEST" })));

        var throttled = responses.Where(r => r.Status != HttpStatusCode.OK).ToList();
        Assert.NotEmpty(throttled);
        Assert.All(throttled, r => Assert.Equal("ProvisionedThroughputExceededException", r.ErrorType));
    }

    [Fact]
    public async Task AResponseOverTheReadPenaltyThrottlesTheNextReadsButSmallOnesDoNot()
    {
        using var client = new KinesisJsonClient(fixture.Limited.Endpoint);
        var small = await NewStreamAsync(client, "small");
        await client.OkAsync("PutRecord", new { StreamName = small, PartitionKey = "k", Data = Convert.ToBase64String(new byte[100]) });
        var iterator = await IteratorAsync(client, small);
        for (int i = 0; i < 3; i++)
        {
            var read = await client.OkAsync("GetRecords", new { ShardIterator = iterator });
            iterator = read["NextShardIterator"]!.GetValue<string>();
        }

        var large = await NewStreamAsync(client, "large");
        await client.OkAsync("PutRecord", new { StreamName = large, PartitionKey = "k", Data = Convert.ToBase64String(new byte[LimitsFixture.ReadPenaltyBytes]) });
        var big = await client.OkAsync("GetRecords", new { ShardIterator = await IteratorAsync(client, large) });
        Assert.Single(big["Records"]!.AsArray());

        var next = await client.CallAsync("GetRecords", new { ShardIterator = big["NextShardIterator"]!.GetValue<string>() });
        Assert.Equal(HttpStatusCode.BadRequest, next.Status);
        Assert.Equal("ProvisionedThroughputExceededException", next.ErrorType);
    }

    [Fact]
    public async Task ControlPlaneRatesAnswerLimitExceeded()
    {
        using var client = new KinesisJsonClient(fixture.Limited.Endpoint);
        var name = await NewStreamAsync(client, "control");

        var describes = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.CallAsync("DescribeStream", new { StreamName = name })));
        var limited = describes.Where(r => r.Status != HttpStatusCode.OK).ToList();
        Assert.NotEmpty(limited);
        Assert.All(limited, r =>
        {
            Assert.Equal(HttpStatusCode.BadRequest, r.Status);
            Assert.Equal("LimitExceededException", r.ErrorType);
            Assert.Equal($"Rate exceeded for stream {name} under account {Account}.", r.ErrorMessage);
        });

        var lists = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => client.CallAsync("ListStreams", new { })));
        var listLimited = lists.Where(r => r.Status != HttpStatusCode.OK).ToList();
        Assert.NotEmpty(listLimited);
        Assert.All(listLimited, r => Assert.Equal("LimitExceededException", r.ErrorType));
    }

    [Fact]
    public async Task TheShardQuotaIsAwsDefaultWithEnforceLimits()
    {
        using var client = new KinesisJsonClient(fixture.Limited.Endpoint);
        var name = ServerFixture.UniqueName("quota");
        KinesisJsonClient.Response response;
        int attempts = 0;
        do
        {
            response = await client.CallAsync("CreateStream", new { StreamName = name, ShardCount = 501 });
        }
        while (response.ErrorMessage?.StartsWith("Rate exceeded", StringComparison.Ordinal) == true && ++attempts < 50 && await Delay());

        Assert.Equal("LimitExceededException", response.ErrorType);
        Assert.Matches(@"^This request would exceed the shard limit for the account 000000000000 in us-east-1\. Current shard count for the account: \d+\. Limit: 500\. Number of additional shards that would have resulted from this request: 501\.$", response.ErrorMessage);

        static async Task<bool> Delay()
        {
            await Task.Delay(100);
            return true;
        }
    }

    [Fact]
    public async Task OnDemandStreamsShareFourShardsOfBudgetAcrossTheStream()
    {
        using var client = new KinesisJsonClient(fixture.Limited.Endpoint);
        var name = ServerFixture.UniqueName("ondemand");
        await LimitsFixture.CreateStreamAsync(client, new { StreamName = name, StreamModeDetails = new { StreamMode = "ON_DEMAND" } });

        // Three shards' worth of records on one partition key (so one shard): a provisioned shard would refuse most.
        var response = await client.OkAsync("PutRecords", Batch(name, 3 * LimitsFixture.WriteRecordsPerSecond, 10));
        Assert.Equal(0, response["FailedRecordCount"]!.GetValue<int>());

        // More than the whole pooled budget holds (four shards' second), so some fail however long the first call took.
        var over = await client.OkAsync("PutRecords", Batch(name, 5 * LimitsFixture.WriteRecordsPerSecond, 10, key: "other"));
        Assert.True(over["FailedRecordCount"]!.GetValue<int>() > 0, over.ToJsonString());
    }

    [Fact]
    public async Task WithoutTheFlagTheSameBurstsAreNotThrottled()
    {
        using var client = new KinesisJsonClient(fixture.Unlimited.Endpoint);
        var name = ServerFixture.UniqueName("free");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });

        var put = await client.OkAsync("PutRecords", Batch(name, 500, 1000));
        Assert.Equal(0, put["FailedRecordCount"]!.GetValue<int>());

        var iterator = await IteratorAsync(client, name);
        for (int i = 0; i < 8; i++)
        {
            var read = await client.OkAsync("GetRecords", new { ShardIterator = iterator, Limit = 10 });
            iterator = read["NextShardIterator"]!.GetValue<string>();
        }

        var describes = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => client.CallAsync("DescribeStream", new { StreamName = name })));
        Assert.All(describes, r => Assert.Equal(HttpStatusCode.OK, r.Status));
        var big = await client.CallAsync("CreateStream", new { StreamName = ServerFixture.UniqueName("big"), ShardCount = 501 });
        Assert.Equal(HttpStatusCode.OK, big.Status);
    }
}
