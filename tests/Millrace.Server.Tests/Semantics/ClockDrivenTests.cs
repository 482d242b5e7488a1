using System.Net;
using System.Text;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Semantics;

/// <summary>Behaviour that depends on time (iterator expiry, retention), with the server in-process on a clock
/// the test controls.</summary>
public sealed class ClockDrivenTests : IAsyncLifetime
{
    private readonly InProcessServer _server = new();

    private KinesisJsonClient Client => _server.Client;

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    [Fact]
    public async Task IteratorExpiresAfterFiveMinutes()
    {
        await Client.OkAsync("CreateStream", new { StreamName = "expiry", ShardCount = 1 });
        var iterator = (await Client.OkAsync("GetShardIterator", new { StreamName = "expiry", ShardId = "shardId-000000000000", ShardIteratorType = "LATEST" }))["ShardIterator"]!.GetValue<string>();

        _server.Clock.Advance(TimeSpan.FromMinutes(4));
        var fresh = await Client.CallAsync("GetRecords", new { ShardIterator = iterator });
        Assert.Equal(HttpStatusCode.OK, fresh.Status);

        _server.Clock.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromMilliseconds(1));
        var expired = await Client.CallAsync("GetRecords", new { ShardIterator = iterator });
        Assert.Equal(HttpStatusCode.BadRequest, expired.Status);
        Assert.Equal("ExpiredIteratorException", expired.ErrorType);
        Assert.Contains("tolerated delay of 300000 milliseconds", expired.ErrorMessage);

        // The NextShardIterator handed out by the fresh call has its own five minutes.
        var next = fresh.Json!["NextShardIterator"]!.GetValue<string>();
        Assert.Equal(HttpStatusCode.OK, (await Client.CallAsync("GetRecords", new { ShardIterator = next })).Status);
        _server.Clock.Advance(TimeSpan.FromMinutes(4));
        Assert.Equal("ExpiredIteratorException", (await Client.CallAsync("GetRecords", new { ShardIterator = next })).ErrorType);
    }

    [Fact]
    public async Task RecordsPastRetentionAreNotReturned()
    {
        await Client.OkAsync("CreateStream", new { StreamName = "retention", ShardCount = 1 });
        await Client.OkAsync("PutRecord", new { StreamName = "retention", PartitionKey = "a", Data = Convert.ToBase64String(Encoding.UTF8.GetBytes("old")) });
        _server.Clock.Advance(TimeSpan.FromHours(23));
        await Client.OkAsync("PutRecord", new { StreamName = "retention", PartitionKey = "a", Data = Convert.ToBase64String(Encoding.UTF8.GetBytes("new")) });

        async Task<List<string>> ReadAllAsync()
        {
            var it = (await Client.OkAsync("GetShardIterator", new { StreamName = "retention", ShardId = "shardId-000000000000", ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();
            var page = await Client.OkAsync("GetRecords", new { ShardIterator = it });
            return page["Records"]!.AsArray().Select(r => Encoding.UTF8.GetString(Convert.FromBase64String(r!["Data"]!.GetValue<string>()))).ToList();
        }

        Assert.Equal(["old", "new"], await ReadAllAsync());
        _server.Clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromMinutes(1));
        Assert.Equal(["new"], await ReadAllAsync());
        _server.Clock.Advance(TimeSpan.FromHours(24));
        Assert.Empty(await ReadAllAsync());
    }

    [Fact]
    public async Task AtTimestampStartsAtTheFirstRecordAtOrAfterIt()
    {
        await Client.OkAsync("CreateStream", new { StreamName = "timestamps", ShardCount = 1 });
        var times = new List<double>();
        for (int i = 0; i < 5; i++)
        {
            times.Add(_server.Clock.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0);
            await Client.OkAsync("PutRecord", new { StreamName = "timestamps", PartitionKey = "a", Data = Convert.ToBase64String([(byte)i]) });
            _server.Clock.Advance(TimeSpan.FromSeconds(10));
        }

        var it = (await Client.OkAsync("GetShardIterator", new { StreamName = "timestamps", ShardId = "shardId-000000000000", ShardIteratorType = "AT_TIMESTAMP", Timestamp = times[2] }))["ShardIterator"]!.GetValue<string>();
        var records = (await Client.OkAsync("GetRecords", new { ShardIterator = it }))["Records"]!.AsArray();
        Assert.Equal([2, 3, 4], records.Select(r => (int)Convert.FromBase64String(r!["Data"]!.GetValue<string>())[0]));
        Assert.Equal(times[2], records[0]!["ApproximateArrivalTimestamp"]!.GetValue<double>(), 3);
    }
}
