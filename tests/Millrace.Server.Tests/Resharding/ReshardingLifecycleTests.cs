using System.Net;
using System.Numerics;
using Millrace.Server.Hosting;
using Millrace.Kinesis;
using Millrace.Server.Tests.Infrastructure;
using Millrace.Storage;
using static Millrace.Server.Tests.Resharding.ReshardingSupport;

namespace Millrace.Server.Tests.Resharding;

/// <summary>Resharding over time and restarts, with the server in-process on a clock the test controls: the UPDATING
/// window, restarts in the middle of a change, the shard quota, ShardFilter by time, and parents expiring.</summary>
public sealed class ReshardingLifecycleTests : IAsyncLifetime
{
    private static readonly BigInteger Half = BigInteger.One << 127;
    private readonly ManualClock _clock = new(DateTimeOffset.UtcNow);
    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "millrace-reshard-" + Guid.NewGuid().ToString("N"));
    private MillraceHost? _host;
    private KinesisJsonClient? _client;

    private KinesisJsonClient Client => _client!;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await StopAsync();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    private async Task StartAsync(TimeSpan? updateDelay = null, int shardLimit = 500)
    {
        await StopAsync();
        _host = await MillraceHost.StartAsync(new MillraceServerOptions
        {
            Port = 0,
            DataDirectory = _dataDirectory,
            Clock = _clock,
            UpdateStreamDelay = updateDelay ?? TimeSpan.Zero,
            ShardLimit = shardLimit,
        });
        _client = new KinesisJsonClient(_host.Endpoint.ToString());
    }

    private async Task StopAsync()
    {
        _client?.Dispose();
        _client = null;
        if (_host is not null)
        {
            await _host.DisposeAsync();
            _host = null;
        }
    }

    private async Task<string> StatusAsync(string name) =>
        (await Client.OkAsync("DescribeStreamSummary", new { StreamName = name }))["StreamDescriptionSummary"]!["StreamStatus"]!.GetValue<string>();

    private async Task<string> PutOneAsync(string name, BigInteger key, string data) =>
        (await PutAsync(Client, name, [(key, data)]))[0].SequenceNumber;

    [Fact]
    public async Task AnUpdatingStreamKeepsServingAndAPendingChangeSurvivesRestarts()
    {
        await StartAsync(updateDelay: TimeSpan.FromHours(1));
        await Client.OkAsync("CreateStream", new { StreamName = "pending", ShardCount = 1 });
        var first = await PutOneAsync("pending", 0, "first");
        await Client.OkAsync("SplitShard", new { StreamName = "pending", ShardToSplit = ShardId(0), NewStartingHashKey = Half.ToString() });

        Assert.Equal("UPDATING", await StatusAsync("pending"));
        Assert.Equal([ShardId(0)], Ids(await ListShardsAsync(Client, "pending")));
        var during = await PutOneAsync("pending", TwoTo128 - 1, "during"); // writes go on, to the old shard
        Assert.Equal([first, during], (await DrainAsync(Client, "pending", ShardId(0))).Records.Select(r => r.SequenceNumber));

        const string notActive = "Stream pending under account 000000000000 not ACTIVE, instead in state UPDATING";
        foreach (var (operation, body) in new (string, object)[]
        {
            ("SplitShard", new { StreamName = "pending", ShardToSplit = ShardId(0), NewStartingHashKey = "5" }),
            ("MergeShards", new { StreamName = "pending", ShardToMerge = ShardId(0), AdjacentShardToMerge = ShardId(1) }),
            ("UpdateShardCount", new { StreamName = "pending", TargetShardCount = 2, ScalingType = "UNIFORM_SCALING" }),
        })
        {
            var refused = await Client.CallAsync(operation, body);
            Assert.Equal("ResourceInUseException", refused.ErrorType);
            Assert.Equal(notActive, refused.ErrorMessage);
        }

        // Restarted before the delay is over: still pending.
        await StartAsync(updateDelay: TimeSpan.FromHours(1));
        Assert.Equal("UPDATING", await StatusAsync("pending"));

        // Restarted after it: applied before the first request is served.
        _clock.Advance(TimeSpan.FromHours(2));
        await StartAsync(updateDelay: TimeSpan.FromHours(1));
        Assert.Equal("ACTIVE", await StatusAsync("pending"));
        var shards = await ListShardsAsync(Client, "pending");
        Assert.Equal([ShardId(0), ShardId(1), ShardId(2)], Ids(shards));
        Assert.Equal(during, shards[0]!["SequenceNumberRange"]!["EndingSequenceNumber"]!.GetValue<string>());
        var drained = await DrainAsync(Client, "pending", ShardId(0));
        Assert.Equal([first, during], drained.Records.Select(r => r.SequenceNumber));
        Assert.Equal(2, drained.ChildShards!.Count);
    }

    [Fact]
    public async Task TheUpdateDelayEndsOnItsOwn()
    {
        await StartAsync(updateDelay: TimeSpan.FromMilliseconds(200));
        await Client.OkAsync("CreateStream", new { StreamName = "delayed", ShardCount = 2 });
        await Client.OkAsync("MergeShards", new { StreamName = "delayed", ShardToMerge = ShardId(0), AdjacentShardToMerge = ShardId(1) });
        for (int i = 0; i < 200 && await StatusAsync("delayed") == "UPDATING"; i++)
        {
            await Task.Delay(50);
        }

        Assert.Equal("ACTIVE", await StatusAsync("delayed"));
        Assert.Equal([ShardId(2)], Ids(await ListShardsAsync(Client, "delayed", new { Type = "AT_LATEST" })));
    }

    /// <summary>A crash after the new shard map was stored (writers already routed to the children) but before the
    /// parent's ending was recorded, with or without the seal done: the start finishes it, and a record acknowledged
    /// to the parent in that window is inside the parent's range of sequence numbers.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AChangeInterruptedBetweenItsStepsIsFinishedAtStart(bool sealedBeforeCrash)
    {
        await StartAsync();
        await Client.OkAsync("CreateStream", new { StreamName = "crash", ShardCount = 1 });
        var acked = new List<string> { await PutOneAsync("crash", 1, "a"), await PutOneAsync("crash", 2, "b") };
        await StopAsync();

        var store = await EmbeddedStreamStore.OpenAsync(new EmbeddedStoreOptions { DataDirectory = Path.Combine(_dataDirectory, "streams"), Clock = _clock });
        try
        {
            var stream = (await store.Catalog.FindAsync("crash"))!;
            var now = _clock.GetUtcNow().ToUnixTimeMilliseconds();
            var start = (ulong)now << 20;
            ShardDescription Child(int index, BigInteger from, BigInteger to) => new()
            {
                ShardIndex = index,
                StartingHashKey = from.ToString(),
                EndingHashKey = to.ToString(),
                StartingPosition = start,
                CreatedAtMs = now,
                ParentShardIndex = 0,
            };
            var children = new[] { Child(1, 0, Half - 1), Child(2, Half, TwoTo128 - 1) };
            foreach (var child in children)
            {
                await store.Records.OpenShardAsync(new ShardKey(stream.StreamId, child.ShardIndex), start);
            }

            await store.Catalog.UpdateAsync(stream with
            {
                Status = "UPDATING",
                NextShardIndex = 3,
                Shards = [stream.Shards[0] with { Closed = true, ClosedAtMs = now }, .. children],
            });

            // An append that reached the parent after routing switched and before the seal.
            var results = new AppendedRecord[1];
            await store.Records.AppendAsync(stream.StreamId, new[] { new AppendEntry(0, "k"u8.ToArray(), "c"u8.ToArray()) }, results);
            acked.Add(SequenceNumbers.Format(0, results[0].Position));
            if (sealedBeforeCrash)
            {
                await store.Records.SealShardAsync(new ShardKey(stream.StreamId, 0));
            }

            await store.FlushAsync();
        }
        finally
        {
            await store.DisposeAsync();
        }

        await StartAsync();
        Assert.Equal("ACTIVE", await StatusAsync("crash"));
        var shards = await ListShardsAsync(Client, "crash");
        Assert.Equal(acked[^1], shards[0]!["SequenceNumberRange"]!["EndingSequenceNumber"]!.GetValue<string>());
        var drained = await DrainAsync(Client, "crash", ShardId(0));
        Assert.Equal(acked, drained.Records.Select(r => r.SequenceNumber));
        Assert.Equal([ShardId(1), ShardId(2)], drained.ChildShards!.Select(c => c!["ShardId"]!.GetValue<string>()));
        Assert.Equal(ShardId(2), (await PutAsync(Client, "crash", [(TwoTo128 - 1, "d")]))[0].ShardId);
    }

    [Fact]
    public async Task TheShardQuotaCountsOpenShards()
    {
        await StartAsync(shardLimit: 3);
        await Client.OkAsync("CreateStream", new { StreamName = "quota", ShardCount = 2 });
        await Client.OkAsync("SplitShard", new { StreamName = "quota", ShardToSplit = ShardId(0), NewStartingHashKey = "100" });

        var split = await Client.CallAsync("SplitShard", new { StreamName = "quota", ShardToSplit = ShardId(1), NewStartingHashKey = (Half + 5).ToString() });
        Assert.Equal(HttpStatusCode.BadRequest, split.Status);
        Assert.Equal("LimitExceededException", split.ErrorType);
        Assert.Equal(
            "This request would exceed the shard limit for the account 000000000000 in us-east-1. Current shard count for the account: 3. " +
            "Limit: 3. Number of additional shards that would have resulted from this request: 1.",
            split.ErrorMessage);
        var scale = await Client.CallAsync("UpdateShardCount", new { StreamName = "quota", TargetShardCount = 4, ScalingType = "UNIFORM_SCALING" });
        Assert.Equal("LimitExceededException", scale.ErrorType);

        // Merging frees one, which a split may use again; scaling within the quota works.
        await Client.OkAsync("MergeShards", new { StreamName = "quota", ShardToMerge = ShardId(2), AdjacentShardToMerge = ShardId(3) });
        await Client.OkAsync("UpdateShardCount", new { StreamName = "quota", TargetShardCount = 3, ScalingType = "UNIFORM_SCALING" });
        Assert.Equal(3, (await ListShardsAsync(Client, "quota", new { Type = "AT_LATEST" })).Count);
    }

    [Fact]
    public async Task ShardFiltersFollowTheirDefinitionsAndClosedShardsExpireWithTheirRecords()
    {
        await StartAsync();
        double Seconds(long ms) => ms / 1000.0;
        long Now() => _clock.GetUtcNow().ToUnixTimeMilliseconds();

        var created = Now();
        await Client.OkAsync("CreateStream", new { StreamName = "filters", ShardCount = 1 });
        _clock.Advance(TimeSpan.FromSeconds(10));
        var splitAt = Now();
        await PutOneAsync("filters", 1, "in the parent");
        await Client.OkAsync("SplitShard", new { StreamName = "filters", ShardToSplit = ShardId(0), NewStartingHashKey = Half.ToString() });
        _clock.Advance(TimeSpan.FromSeconds(10));
        var mergeAt = Now();
        await Client.OkAsync("MergeShards", new { StreamName = "filters", ShardToMerge = ShardId(1), AdjacentShardToMerge = ShardId(2) });
        _clock.Advance(TimeSpan.FromSeconds(10));

        async Task<string[]> List(object? filter) => Ids(await ListShardsAsync(Client, "filters", filter));
        string[] all = [ShardId(0), ShardId(1), ShardId(2), ShardId(3)];
        Assert.Equal(all, await List(null));
        Assert.Equal(all, await List(new { Type = "FROM_TRIM_HORIZON" }));
        Assert.Equal([ShardId(3)], await List(new { Type = "AT_LATEST" }));
        Assert.Equal([ShardId(0)], await List(new { Type = "AT_TRIM_HORIZON" }));
        Assert.Equal([ShardId(2), ShardId(3)], await List(new { Type = "AFTER_SHARD_ID", ShardId = ShardId(1) }));

        // Both ends of a shard's life are inclusive.
        Assert.Equal([ShardId(0)], await List(new { Type = "AT_TIMESTAMP", Timestamp = Seconds(created - 60_000) }));
        Assert.Equal([ShardId(0)], await List(new { Type = "AT_TIMESTAMP", Timestamp = Seconds(splitAt - 1) }));
        Assert.Equal([ShardId(0), ShardId(1), ShardId(2)], await List(new { Type = "AT_TIMESTAMP", Timestamp = Seconds(splitAt) }));
        Assert.Equal([ShardId(1), ShardId(2)], await List(new { Type = "AT_TIMESTAMP", Timestamp = Seconds(splitAt + 1) }));
        Assert.Equal([ShardId(3)], await List(new { Type = "AT_TIMESTAMP", Timestamp = Seconds(mergeAt + 1) }));
        Assert.Equal(all, await List(new { Type = "FROM_TIMESTAMP", Timestamp = Seconds(created) }));
        Assert.Equal([ShardId(1), ShardId(2), ShardId(3)], await List(new { Type = "FROM_TIMESTAMP", Timestamp = Seconds(splitAt + 1) }));
        Assert.Equal([ShardId(3)], await List(new { Type = "FROM_TIMESTAMP", Timestamp = Seconds(mergeAt + 1) }));

        // A closed shard is listed (and readable) until its records are past retention, counted from its closing.
        _clock.Advance(TimeSpan.FromHours(24) - TimeSpan.FromSeconds(25));
        Assert.Equal(all, await List(null));
        Assert.Single((await DrainAsync(Client, "filters", ShardId(0))).Records);
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([ShardId(1), ShardId(2), ShardId(3)], await List(null));
        Assert.Equal([ShardId(1), ShardId(2)], await List(new { Type = "AT_TRIM_HORIZON" }));
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([ShardId(3)], await List(null));
        Assert.Equal([ShardId(3)], await List(new { Type = "AT_TRIM_HORIZON" }));
        var described = (await Client.OkAsync("DescribeStream", new { StreamName = "filters" }))["StreamDescription"]!["Shards"]!.AsArray();
        Assert.Equal([ShardId(3)], Ids(described));
        var gone = await Client.CallAsync("GetShardIterator", new { StreamName = "filters", ShardId = ShardId(0), ShardIteratorType = "TRIM_HORIZON" });
        Assert.Equal("ResourceNotFoundException", gone.ErrorType);
    }
}
