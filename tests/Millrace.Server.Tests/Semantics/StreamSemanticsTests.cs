using System.Net;
using System.Numerics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Semantics;

/// <summary>Kinesis semantics through the wire: hashing, sequence numbers, limits, iterator types, ARNs.</summary>
public sealed class StreamSemanticsTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static readonly BigInteger TwoTo128 = BigInteger.Pow(2, 128);

    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(64)]
    public async Task ShardsSplitTheHashSpaceEvenlyFromFloorOfTwoTo128OverN(int shards)
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("ranges");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = shards });
        var list = (await client.OkAsync("ListShards", new { StreamName = name }))["Shards"]!.AsArray();
        Assert.Equal(shards, list.Count);
        var step = TwoTo128 / shards;
        for (int i = 0; i < shards; i++)
        {
            Assert.Equal($"shardId-{i:D12}", list[i]!["ShardId"]!.GetValue<string>());
            Assert.Equal((step * i).ToString(), list[i]!["HashKeyRange"]!["StartingHashKey"]!.GetValue<string>());
            var end = i == shards - 1 ? TwoTo128 - 1 : (step * (i + 1)) - 1;
            Assert.Equal(end.ToString(), list[i]!["HashKeyRange"]!["EndingHashKey"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task PartitionKeysRouteByMd5AndExplicitHashKeysOverrideThem()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("route");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 4 });
        var step = TwoTo128 / 4;
        for (int i = 0; i < 50; i++)
        {
            var key = "key-" + i;
            var hash = new BigInteger(MD5.HashData(Encoding.UTF8.GetBytes(key)), isUnsigned: true, isBigEndian: true);
            var expected = (int)BigInteger.Min(hash / step, 3);
            var put = await client.OkAsync("PutRecord", new { StreamName = name, PartitionKey = key, Data = B64("x") });
            Assert.Equal($"shardId-{expected:D12}", put["ShardId"]!.GetValue<string>());
        }

        var last = await client.OkAsync("PutRecord", new { StreamName = name, PartitionKey = "a", ExplicitHashKey = (TwoTo128 - 1).ToString(), Data = B64("x") });
        Assert.Equal("shardId-000000000003", last["ShardId"]!.GetValue<string>());
        var first = await client.OkAsync("PutRecord", new { StreamName = name, PartitionKey = "a", ExplicitHashKey = "0", Data = B64("x") });
        Assert.Equal("shardId-000000000000", first["ShardId"]!.GetValue<string>());

        var tooBig = await client.CallAsync("PutRecord", new { StreamName = name, PartitionKey = "a", ExplicitHashKey = TwoTo128.ToString(), Data = B64("x") });
        Assert.Equal("InvalidArgumentException", tooBig.ErrorType);
        Assert.Contains("ExplicitHashKey must be in the range: [0, 2^128-1]", tooBig.ErrorMessage);
    }

    [Fact]
    public async Task RecordSizeLimitIsOneMebibyteIncludingThePartitionKey()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("size");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        var exact = new byte[(1024 * 1024) - 3];
        var ok = await client.CallAsync("PutRecord", new { StreamName = name, PartitionKey = "abc", Data = Convert.ToBase64String(exact) });
        Assert.Equal(HttpStatusCode.OK, ok.Status);
        var over = await client.CallAsync("PutRecord", new { StreamName = name, PartitionKey = "abcd", Data = Convert.ToBase64String(exact) });
        Assert.Equal(HttpStatusCode.BadRequest, over.Status);
        Assert.Equal("InvalidArgumentException", over.ErrorType);
    }

    [Fact]
    public async Task PutRecordsTakesOneTo500Entries()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("batch");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 2 });
        var entries = Enumerable.Range(0, 500).Select(i => new { PartitionKey = "k" + i, Data = B64("v" + i) }).ToArray();
        var ok = await client.OkAsync("PutRecords", new { StreamName = name, Records = entries });
        Assert.Equal(0, ok["FailedRecordCount"]!.GetValue<int>());
        Assert.Equal(500, ok["Records"]!.AsArray().Count);

        var tooMany = await client.CallAsync("PutRecords", new { StreamName = name, Records = entries.Append(new { PartitionKey = "x", Data = B64("x") }).ToArray() });
        Assert.Equal("ValidationException", tooMany.ErrorType);
        Assert.Contains("Member must have length less than or equal to 500", tooMany.ErrorMessage);

        var none = await client.CallAsync("PutRecords", new { StreamName = name, Records = Array.Empty<object>() });
        Assert.Equal("ValidationException", none.ErrorType);
        Assert.Contains("Member must have length greater than or equal to 1", none.ErrorMessage);
    }

    [Fact]
    public async Task SequenceNumbersIncreasePerShardAndAreUniquePerStream()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("seq");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 3 });
        var tasks = Enumerable.Range(0, 20).Select(w => client.OkAsync("PutRecords", new
        {
            StreamName = name,
            Records = Enumerable.Range(0, 50).Select(i => new { PartitionKey = $"w{w}-{i}", Data = B64("x") }).ToArray(),
        }));
        var all = (await Task.WhenAll(tasks)).SelectMany(r => r["Records"]!.AsArray()).Select(r => (Shard: r!["ShardId"]!.GetValue<string>(), Seq: BigInteger.Parse(r["SequenceNumber"]!.GetValue<string>()))).ToList();
        Assert.Equal(1000, all.Select(a => a.Seq).Distinct().Count());

        foreach (var shard in all.GroupBy(a => a.Shard))
        {
            var it = (await client.OkAsync("GetShardIterator", new { StreamName = name, ShardId = shard.Key, ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();
            var read = (await client.OkAsync("GetRecords", new { ShardIterator = it }))["Records"]!.AsArray().Select(r => BigInteger.Parse(r!["SequenceNumber"]!.GetValue<string>())).ToList();
            Assert.Equal(shard.Select(s => s.Seq).Order(), read);
            Assert.True(read.Zip(read.Skip(1)).All(p => p.First < p.Second));
        }
    }

    [Fact]
    public async Task AllFiveIteratorTypes()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("iter");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        var seqs = new List<string>();
        for (int i = 0; i < 5; i++)
        {
            seqs.Add((await client.OkAsync("PutRecord", new { StreamName = name, PartitionKey = "k", Data = B64("r" + i) }))["SequenceNumber"]!.GetValue<string>());
        }

        async Task<List<string>> Read(object request)
        {
            var it = (await client.OkAsync("GetShardIterator", request))["ShardIterator"]!.GetValue<string>();
            return (await client.OkAsync("GetRecords", new { ShardIterator = it }))["Records"]!.AsArray().Select(r => Encoding.UTF8.GetString(Convert.FromBase64String(r!["Data"]!.GetValue<string>()))).ToList();
        }

        const string shard = "shardId-000000000000";
        Assert.Equal(["r0", "r1", "r2", "r3", "r4"], await Read(new { StreamName = name, ShardId = shard, ShardIteratorType = "TRIM_HORIZON" }));
        Assert.Equal(["r2", "r3", "r4"], await Read(new { StreamName = name, ShardId = shard, ShardIteratorType = "AT_SEQUENCE_NUMBER", StartingSequenceNumber = seqs[2] }));
        Assert.Equal(["r3", "r4"], await Read(new { StreamName = name, ShardId = shard, ShardIteratorType = "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber = seqs[2] }));
        Assert.Empty(await Read(new { StreamName = name, ShardId = shard, ShardIteratorType = "LATEST" }));
        Assert.Equal(["r0", "r1", "r2", "r3", "r4"], await Read(new { StreamName = name, ShardId = shard, ShardIteratorType = "AT_TIMESTAMP", Timestamp = 1_000_000_000 }));

        // LATEST then a new record: the iterator taken before the put sees it.
        var latest = (await client.OkAsync("GetShardIterator", new { StreamName = name, ShardId = shard, ShardIteratorType = "LATEST" }))["ShardIterator"]!.GetValue<string>();
        await client.OkAsync("PutRecord", new { StreamName = name, PartitionKey = "k", Data = B64("r5") });
        var page = await client.OkAsync("GetRecords", new { ShardIterator = latest });
        Assert.Equal("r5", Encoding.UTF8.GetString(Convert.FromBase64String(page["Records"]![0]!["Data"]!.GetValue<string>())));
        Assert.Equal(0, page["MillisBehindLatest"]!.GetValue<long>());

        // The shard's starting sequence number is a valid AT/AFTER_SEQUENCE_NUMBER position.
        var start = (await client.OkAsync("ListShards", new { StreamName = name }))["Shards"]![0]!["SequenceNumberRange"]!["StartingSequenceNumber"]!.GetValue<string>();
        Assert.Equal(6, (await Read(new { StreamName = name, ShardId = shard, ShardIteratorType = "AT_SEQUENCE_NUMBER", StartingSequenceNumber = start })).Count);
        Assert.Equal(6, (await Read(new { StreamName = name, ShardId = shard, ShardIteratorType = "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber = start })).Count);

        var missingSeq = await client.CallAsync("GetShardIterator", new { StreamName = name, ShardId = shard, ShardIteratorType = "AT_SEQUENCE_NUMBER" });
        Assert.Equal("InvalidArgumentException", missingSeq.ErrorType);
        var badShard = await client.CallAsync("GetShardIterator", new { StreamName = name, ShardId = "shardId-000000000009", ShardIteratorType = "LATEST" });
        Assert.Equal("ResourceNotFoundException", badShard.ErrorType);
    }

    [Fact]
    public async Task TamperedOrGarbageIteratorsAreInvalidArgument()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("tamper");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        var it = (await client.OkAsync("GetShardIterator", new { StreamName = name, ShardId = "shardId-000000000000", ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();
        var bytes = Convert.FromBase64String(it);
        bytes[15] ^= 0x01; // move the position by one
        foreach (var bad in new[] { Convert.ToBase64String(bytes), "garbage", new string('A', 200) })
        {
            var response = await client.CallAsync("GetRecords", new { ShardIterator = bad });
            Assert.Equal(HttpStatusCode.BadRequest, response.Status);
            Assert.Equal("InvalidArgumentException", response.ErrorType);
            Assert.Equal("Invalid ShardIterator.", response.ErrorMessage);
        }
    }

    [Fact]
    public async Task StreamArnWorksWhereverStreamNameDoes()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("arn");
        var arn = $"arn:aws:kinesis:us-east-1:000000000000:stream/{name}";
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        var summary = await client.OkAsync("DescribeStreamSummary", new { StreamARN = arn });
        Assert.Equal(arn, summary["StreamDescriptionSummary"]!["StreamARN"]!.GetValue<string>());
        await client.OkAsync("PutRecord", new { StreamARN = arn, PartitionKey = "k", Data = B64("x") });
        await client.OkAsync("PutRecords", new { StreamARN = arn, Records = new[] { new { PartitionKey = "k", Data = B64("y") } } });
        Assert.Single((await client.OkAsync("ListShards", new { StreamARN = arn }))["Shards"]!.AsArray());
        var it = (await client.OkAsync("GetShardIterator", new { StreamARN = arn, ShardId = "shardId-000000000000", ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();
        Assert.Equal(2, (await client.OkAsync("GetRecords", new { ShardIterator = it, StreamARN = arn }))["Records"]!.AsArray().Count);
        await client.OkAsync("DescribeStream", new { StreamARN = arn });
        var otherAccount = await client.CallAsync("DescribeStreamSummary", new { StreamARN = $"arn:aws:kinesis:us-east-1:111111111111:stream/{name}" });
        Assert.Equal("ResourceNotFoundException", otherAccount.ErrorType);
        await client.OkAsync("DeleteStream", new { StreamARN = arn });
        Assert.Equal("ResourceNotFoundException", (await client.CallAsync("DescribeStreamSummary", new { StreamName = name })).ErrorType);
    }

    [Fact]
    public async Task OnDemandStreamsGetFourShards()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("ondemand");
        await client.OkAsync("CreateStream", new { StreamName = name, StreamModeDetails = new { StreamMode = "ON_DEMAND" } });
        var summary = (await client.OkAsync("DescribeStreamSummary", new { StreamName = name }))["StreamDescriptionSummary"]!;
        Assert.Equal("ON_DEMAND", summary["StreamModeDetails"]!["StreamMode"]!.GetValue<string>());
        Assert.Equal(4, summary["OpenShardCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task DuplicateCreateIsResourceInUse()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("dup");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        var again = await client.CallAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        Assert.Equal("ResourceInUseException", again.ErrorType);
        Assert.Equal($"Stream {name} under account 000000000000 already exists.", again.ErrorMessage);
    }

    [Fact]
    public async Task PagingThroughStreamsAndShards()
    {
        using var client = fixture.NewClient();
        var prefix = "page" + Guid.NewGuid().ToString("N")[..6];
        for (int i = 0; i < 5; i++)
        {
            await client.OkAsync("CreateStream", new { StreamName = $"{prefix}-{i}", ShardCount = 1 + i });
        }

        var names = new List<string>();
        JsonNode page = await client.OkAsync("ListStreams", new { Limit = 2 });
        for (int calls = 0; calls < 100; calls++)
        {
            names.AddRange(page["StreamNames"]!.AsArray().Select(n => n!.GetValue<string>()));
            Assert.Equal(page["StreamNames"]!.AsArray().Count, page["StreamSummaries"]!.AsArray().Count);
            if (!page["HasMoreStreams"]!.GetValue<bool>())
            {
                break;
            }

            page = await client.OkAsync("ListStreams", new { Limit = 2, NextToken = page["NextToken"]!.GetValue<string>() });
        }

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"{prefix}-{i}"), names.Where(n => n.StartsWith(prefix, StringComparison.Ordinal)));
        Assert.Equal(names.Order(StringComparer.Ordinal), names);

        var shards = new List<string>();
        var shardPage = await client.OkAsync("ListShards", new { StreamName = $"{prefix}-4", MaxResults = 2 });
        for (int calls = 0; calls < 10; calls++)
        {
            shards.AddRange(shardPage["Shards"]!.AsArray().Select(s => s!["ShardId"]!.GetValue<string>()));
            if (shardPage["NextToken"] is not { } token)
            {
                break;
            }

            shardPage = await client.OkAsync("ListShards", new { NextToken = token.GetValue<string>(), MaxResults = 2 });
        }

        Assert.Equal(Enumerable.Range(0, 5).Select(i => $"shardId-{i:D12}"), shards);

        var described = await client.OkAsync("DescribeStream", new { StreamName = $"{prefix}-4", Limit = 3 });
        Assert.True(described["StreamDescription"]!["HasMoreShards"]!.GetValue<bool>());
        var rest = await client.OkAsync("DescribeStream", new { StreamName = $"{prefix}-4", ExclusiveStartShardId = "shardId-000000000002" });
        Assert.Equal(2, rest["StreamDescription"]!["Shards"]!.AsArray().Count);
        Assert.False(rest["StreamDescription"]!["HasMoreShards"]!.GetValue<bool>());

        var both = await client.CallAsync("ListShards", new { StreamName = $"{prefix}-4", NextToken = shardPage["NextToken"]?.GetValue<string>() ?? "x" });
        Assert.Equal("InvalidArgumentException", both.ErrorType);
    }

    [Fact]
    public async Task StatusGoesCreatingThenActiveAndDeletingThenGoneAfterTheConfiguredDelays()
    {
        await using var slow = await MillraceProcess.StartAsync("--create-stream-ms", "1500", "--delete-stream-ms", "1500");
        using var client = new KinesisJsonClient(slow.Endpoint);
        await client.OkAsync("CreateStream", new { StreamName = "slow", ShardCount = 1 });
        Assert.Equal("CREATING", (await client.OkAsync("DescribeStreamSummary", new { StreamName = "slow" }))["StreamDescriptionSummary"]!["StreamStatus"]!.GetValue<string>());
        var put = await client.CallAsync("PutRecord", new { StreamName = "slow", PartitionKey = "k", Data = B64("x") });
        Assert.Equal("ResourceNotFoundException", put.ErrorType);

        await WaitForAsync(async () => (await client.OkAsync("DescribeStreamSummary", new { StreamName = "slow" }))["StreamDescriptionSummary"]!["StreamStatus"]!.GetValue<string>() == "ACTIVE");
        await client.OkAsync("PutRecord", new { StreamName = "slow", PartitionKey = "k", Data = B64("x") });

        await client.OkAsync("DeleteStream", new { StreamName = "slow" });
        Assert.Equal("DELETING", (await client.OkAsync("DescribeStreamSummary", new { StreamName = "slow" }))["StreamDescriptionSummary"]!["StreamStatus"]!.GetValue<string>());
        await WaitForAsync(async () => (await client.CallAsync("DescribeStreamSummary", new { StreamName = "slow" })).ErrorType == "ResourceNotFoundException");
    }

    private static async Task WaitForAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 20 s");
            await Task.Delay(100);
        }
    }
}
