using System.Collections.Concurrent;
using System.Net;
using System.Numerics;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;
using static Millrace.Server.Tests.Resharding.ReshardingSupport;

namespace Millrace.Server.Tests.Resharding;

/// <summary>SplitShard, MergeShards and UpdateShardCount over raw JSON against a real <c>millrace serve</c>: lineage,
/// closed parents, draining to ChildShards, AWS's errors, and records written while shards change.</summary>
public sealed class ReshardingTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static readonly BigInteger Half = BigInteger.One << 127;

    [Fact]
    public async Task SplitShardClosesTheParentAndHandsItsRangeToTwoChildren()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("split");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        var before = await PutAsync(client, name, [.. Enumerable.Range(0, 6).Select(i => (SpreadKey(i, 6), $"before-{i}"))]);
        Assert.All(before, a => Assert.Equal(ShardId(0), a.ShardId));

        await client.OkAsync("SplitShard", new { StreamName = name, ShardToSplit = ShardId(0), NewStartingHashKey = Half.ToString() });

        var summary = (await client.OkAsync("DescribeStreamSummary", new { StreamName = name }))["StreamDescriptionSummary"]!;
        Assert.Equal("ACTIVE", summary["StreamStatus"]!.GetValue<string>());
        Assert.Equal(2, summary["OpenShardCount"]!.GetValue<int>());

        var shards = await ListShardsAsync(client, name);
        Assert.Equal([ShardId(0), ShardId(1), ShardId(2)], Ids(shards));
        var parent = shards[0]!;
        Assert.Equal(before[^1].SequenceNumber, parent["SequenceNumberRange"]!["EndingSequenceNumber"]!.GetValue<string>());
        Assert.Equal((BigInteger.Zero, Half - 1), Range(shards[1]!));
        Assert.Equal((Half, TwoTo128 - 1), Range(shards[2]!));
        foreach (var child in new[] { shards[1]!, shards[2]! })
        {
            Assert.Equal(ShardId(0), child["ParentShardId"]!.GetValue<string>());
            Assert.Null(child["AdjacentParentShardId"]);
            Assert.True(IsOpen(child));
        }

        Assert.Equal([ShardId(1), ShardId(2)], Ids(await ListShardsAsync(client, name, new { Type = "AT_LATEST" })));
        var described = (await client.OkAsync("DescribeStream", new { StreamName = name }))["StreamDescription"]!["Shards"]!.AsArray();
        Assert.Equal(shards.ToJsonString(), described.ToJsonString());

        var after = await PutAsync(client, name, [.. Enumerable.Range(0, 6).Select(i => (SpreadKey(i, 6), $"after-{i}"))]);
        Assert.All(after, a => Assert.Equal(a.HashKey < Half ? ShardId(1) : ShardId(2), a.ShardId));

        var drained = await DrainAsync(client, name, ShardId(0));
        Assert.True(drained.Ended);
        Assert.Equal(before.Select(a => (a.SequenceNumber, a.Data)), drained.Records);
        var children = drained.ChildShards!;
        Assert.Equal([ShardId(1), ShardId(2)], children.Select(c => c!["ShardId"]!.GetValue<string>()));
        Assert.All(children, c => Assert.Equal([ShardId(0)], c!["ParentShards"]!.AsArray().Select(p => p!.GetValue<string>())));
        Assert.Equal((BigInteger.Zero, Half - 1), Range(children[0]!));
        Assert.Equal((Half, TwoTo128 - 1), Range(children[1]!));

        for (int child = 1; child <= 2; child++)
        {
            var read = await DrainAsync(client, name, ShardId(child));
            Assert.False(read.Ended);
            Assert.Equal(after.Where(a => a.ShardId == ShardId(child)).Select(a => (a.SequenceNumber, a.Data)), read.Records);
        }
    }

    [Fact]
    public async Task MergeShardsJoinsTwoAdjacentShardsInEitherOrder()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("merge");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 3 });
        var before = await PutAsync(client, name, [.. Enumerable.Range(0, 9).Select(i => (SpreadKey(i, 9), $"before-{i}"))]);

        // AdjacentShardToMerge holds the lower range here: adjacency, not order, is what counts.
        await client.OkAsync("MergeShards", new { StreamName = name, ShardToMerge = ShardId(2), AdjacentShardToMerge = ShardId(1) });

        var shards = await ListShardsAsync(client, name);
        Assert.Equal([ShardId(0), ShardId(1), ShardId(2), ShardId(3)], Ids(shards));
        var merged = shards[3]!;
        Assert.Equal(ShardId(2), merged["ParentShardId"]!.GetValue<string>());
        Assert.Equal(ShardId(1), merged["AdjacentParentShardId"]!.GetValue<string>());
        Assert.Equal((EvenRange(1, 3).Start, TwoTo128 - 1), Range(merged));
        Assert.True(IsOpen(shards[0]!));
        Assert.False(IsOpen(shards[1]!));
        Assert.False(IsOpen(shards[2]!));
        AssertTiles(shards.Where(s => IsOpen(s!))!);

        foreach (var parent in new[] { 1, 2 })
        {
            var drained = await DrainAsync(client, name, ShardId(parent));
            Assert.Equal(before.Where(a => a.ShardId == ShardId(parent)).Select(a => (a.SequenceNumber, a.Data)), drained.Records);
            var child = Assert.Single(drained.ChildShards!)!;
            Assert.Equal(ShardId(3), child["ShardId"]!.GetValue<string>());
            Assert.Equal([ShardId(2), ShardId(1)], child["ParentShards"]!.AsArray().Select(p => p!.GetValue<string>()));
        }

        var after = await PutAsync(client, name, [(TwoTo128 - 1, "top")]);
        Assert.Equal(ShardId(3), after[0].ShardId);
    }

    [Fact]
    public async Task AnEmptyParentEndsAtItsStartAndLatestOnAClosedShardYieldsItsChildren()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("empty");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        await client.OkAsync("SplitShard", new { StreamName = name, ShardToSplit = ShardId(0), NewStartingHashKey = "2" });

        var parent = (await ListShardsAsync(client, name))[0]!["SequenceNumberRange"]!;
        Assert.Equal(parent["StartingSequenceNumber"]!.GetValue<string>(), parent["EndingSequenceNumber"]!.GetValue<string>());

        var latest = await DrainAsync(client, name, ShardId(0), "LATEST");
        Assert.True(latest.Ended);
        Assert.Empty(latest.Records);
        Assert.Equal([ShardId(1), ShardId(2)], latest.ChildShards!.Select(c => c!["ShardId"]!.GetValue<string>()));
        Assert.Equal((BigInteger.Zero, BigInteger.One), Range(latest.ChildShards![0]!));
    }

    [Fact]
    public async Task UpdateShardCountEndsWithUniformShardsAndKeepsEveryRecord()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("scale");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 3 });
        var acked = new List<Acked>();
        int current = 3;
        foreach (var (target, step) in new[] { 4, 8, 5, 3, 6, 3 }.Select((t, s) => (t, s)))
        {
            acked.AddRange(await PutAsync(client, name, [.. Enumerable.Range(0, 12).Select(i => (SpreadKey(i, 12), $"{step}-{i}"))]));
            var response = await client.OkAsync("UpdateShardCount", new { StreamName = name, TargetShardCount = target, ScalingType = "UNIFORM_SCALING" });
            Assert.Equal(name, response["StreamName"]!.GetValue<string>());
            Assert.Equal($"arn:aws:kinesis:us-east-1:000000000000:stream/{name}", response["StreamARN"]!.GetValue<string>());
            Assert.Equal(current, response["CurrentShardCount"]!.GetValue<int>());
            Assert.Equal(target, response["TargetShardCount"]!.GetValue<int>());

            var open = (await ListShardsAsync(client, name, new { Type = "AT_LATEST" })).Select(s => s!).OrderBy(s => Range(s).Start).ToList();
            Assert.Equal(target, open.Count);
            for (int i = 0; i < target; i++)
            {
                Assert.Equal(EvenRange(i, target), Range(open[i]));
            }

            current = target;
        }

        acked.AddRange(await PutAsync(client, name, [.. Enumerable.Range(0, 12).Select(i => (SpreadKey(i, 12), $"last-{i}"))]));
        await AssertEveryRecordOnceAsync(client, name, acked);

        var history = (await client.OkAsync("DescribeStreamSummary", new { StreamName = name }))["StreamDescriptionSummary"]!;
        Assert.Equal(3, history["OpenShardCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task RecordsWrittenWhileShardsChangeAreAllReadableExactlyOnce()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("race");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 2 });
        var acked = new ConcurrentBag<Acked>();
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 6).Select(w => Task.Run(async () =>
        {
            using var own = fixture.NewClient();
            var rng = new Random(w);
            for (int batch = 0; batch < 400 && (!stop.IsCancellationRequested || batch < 3); batch++)
            {
                var records = Enumerable.Range(0, 10).Select(i =>
                {
                    var bytes = new byte[17];
                    rng.NextBytes(bytes.AsSpan(0, 16));
                    return (new BigInteger(bytes), $"w{w}-b{batch}-{i}");
                }).ToList();
                foreach (var a in await PutAsync(own, name, records))
                {
                    acked.Add(a);
                }
            }
        })).ToList();

        // Resharding steps run while the writers keep going.
        await client.OkAsync("SplitShard", new { StreamName = name, ShardToSplit = ShardId(0), NewStartingHashKey = (Half / 2).ToString() });
        await client.OkAsync("SplitShard", new { StreamName = name, ShardToSplit = ShardId(1), NewStartingHashKey = (Half + (Half / 2)).ToString() });
        await client.OkAsync("MergeShards", new { StreamName = name, ShardToMerge = ShardId(3), AdjacentShardToMerge = ShardId(4) });
        await client.OkAsync("UpdateShardCount", new { StreamName = name, TargetShardCount = 5, ScalingType = "UNIFORM_SCALING" });
        await client.OkAsync("UpdateShardCount", new { StreamName = name, TargetShardCount = 3, ScalingType = "UNIFORM_SCALING" });
        stop.Cancel();
        await Task.WhenAll(writers);

        AssertTiles((await ListShardsAsync(client, name, new { Type = "AT_LATEST" })).Select(s => s!));
        await AssertEveryRecordOnceAsync(client, name, [.. acked]);
    }

    [Fact]
    public async Task ErrorsAreAwsErrors()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("errors");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 2 });
        var (start1, end1) = EvenRange(1, 2);

        async Task Expect(string operation, object body, string type, string? message = null)
        {
            var response = await client.CallAsync(operation, body);
            Assert.Equal(HttpStatusCode.BadRequest, response.Status);
            Assert.Equal(type, response.ErrorType);
            if (message is not null)
            {
                Assert.Equal(message, response.ErrorMessage);
            }
        }

        string Outside(BigInteger key) =>
            $"NewStartingHashKey {key} used in SplitShard() on shard {ShardId(1)} in stream {name} under account 000000000000 is not both " +
            $"greater than one plus the shard's StartingHashKey {start1} and less than the shard's EndingHashKey {end1}.";
        await Expect("SplitShard", new { StreamName = name, ShardToSplit = ShardId(1), NewStartingHashKey = start1.ToString() }, "InvalidArgumentException", Outside(start1));
        await Expect("SplitShard", new { StreamName = name, ShardToSplit = ShardId(1), NewStartingHashKey = (start1 + 1).ToString() }, "InvalidArgumentException", Outside(start1 + 1));
        await Expect("SplitShard", new { StreamName = name, ShardToSplit = ShardId(1), NewStartingHashKey = end1.ToString() }, "InvalidArgumentException", Outside(end1));
        await Expect("SplitShard", new { StreamName = name, ShardToSplit = ShardId(1), NewStartingHashKey = "5" }, "InvalidArgumentException", Outside(5));
        await Expect("SplitShard", new { StreamName = name, ShardToSplit = ShardId(1), NewStartingHashKey = TwoTo128.ToString() }, "InvalidArgumentException", Outside(TwoTo128));
        await Expect("SplitShard", new { StreamName = name, ShardToSplit = ShardId(7), NewStartingHashKey = "5" }, "ResourceNotFoundException",
            $"Could not find shard {ShardId(7)} in stream {name} under account 000000000000.");
        await Expect("SplitShard", new { StreamName = name + "-missing", ShardToSplit = ShardId(0), NewStartingHashKey = "5" }, "ResourceNotFoundException");
        await Expect("MergeShards", new { StreamName = name, ShardToMerge = ShardId(0), AdjacentShardToMerge = ShardId(0) }, "InvalidArgumentException",
            $"Shards {ShardId(0)} and {ShardId(0)} in stream {name} under account 000000000000 are not an adjacent pair of shards eligible for merging");
        await Expect("MergeShards", new { StreamName = name, ShardToMerge = ShardId(0), AdjacentShardToMerge = ShardId(9) }, "ResourceNotFoundException");

        await client.OkAsync("SplitShard", new { StreamName = name, ShardToSplit = ShardId(1), NewStartingHashKey = (start1 + 2).ToString() });
        var closed = $"Shard {ShardId(1)} in stream {name} under account 000000000000 has already been merged or split, and thus is not eligible for merging or splitting.";
        await Expect("SplitShard", new { StreamName = name, ShardToSplit = ShardId(1), NewStartingHashKey = (start1 + 5).ToString() }, "InvalidArgumentException", closed);
        await Expect("MergeShards", new { StreamName = name, ShardToMerge = ShardId(0), AdjacentShardToMerge = ShardId(1) }, "InvalidArgumentException", closed);
        await Expect("MergeShards", new { StreamName = name, ShardToMerge = ShardId(0), AdjacentShardToMerge = ShardId(3) }, "InvalidArgumentException");

        // three open shards now
        await Expect("UpdateShardCount", new { StreamName = name, TargetShardCount = 7, ScalingType = "UNIFORM_SCALING" }, "LimitExceededException",
            "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: 3, Target shard count: 7");
        await Expect("UpdateShardCount", new { StreamName = name, TargetShardCount = 1, ScalingType = "UNIFORM_SCALING" }, "LimitExceededException",
            "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: 3, Target shard count: 1");
        await Expect("UpdateShardCount", new { StreamName = name, TargetShardCount = 10001, ScalingType = "UNIFORM_SCALING" }, "LimitExceededException");
        await Expect("UpdateShardCount", new { StreamName = name, TargetShardCount = 3, ScalingType = "EVEN" }, "ValidationException");

        var onDemand = ServerFixture.UniqueName("od");
        await client.OkAsync("CreateStream", new { StreamName = onDemand, StreamModeDetails = new { StreamMode = "ON_DEMAND" } });
        await Expect("SplitShard", new { StreamName = onDemand, ShardToSplit = ShardId(0), NewStartingHashKey = "5" }, "ValidationException");
        await Expect("MergeShards", new { StreamName = onDemand, ShardToMerge = ShardId(0), AdjacentShardToMerge = ShardId(1) }, "ValidationException");
        await Expect("UpdateShardCount", new { StreamName = onDemand, TargetShardCount = 5, ScalingType = "UNIFORM_SCALING" }, "ValidationException");
    }

    [Fact]
    public async Task UpdateShardCountAllowsTenScalingsPerRollingDay()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("ten");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        for (int i = 0; i < 10; i++)
        {
            await client.OkAsync("UpdateShardCount", new { StreamName = name, TargetShardCount = i % 2 == 0 ? 2 : 1, ScalingType = "UNIFORM_SCALING" });
        }

        var eleventh = await client.CallAsync("UpdateShardCount", new { StreamName = name, TargetShardCount = 2, ScalingType = "UNIFORM_SCALING" });
        Assert.Equal("LimitExceededException", eleventh.ErrorType);

        // Split and merge are not scalings.
        await client.OkAsync("SplitShard", new { StreamName = name, ShardToSplit = Ids(await ListShardsAsync(client, name, new { Type = "AT_LATEST" }))[0], NewStartingHashKey = Half.ToString() });
    }

    /// <summary>Reads every listed shard to its end; each acknowledged record is there exactly once, on the shard and
    /// with the sequence number it was acknowledged with, and nothing else is.</summary>
    internal static async Task AssertEveryRecordOnceAsync(KinesisJsonClient client, string name, IReadOnlyCollection<Acked> acked)
    {
        var shards = await ListShardsAsync(client, name);
        var seen = new Dictionary<string, (string ShardId, string Sequence)>();
        foreach (var shard in shards)
        {
            var shardId = shard!["ShardId"]!.GetValue<string>();
            var drained = await DrainAsync(client, name, shardId);
            Assert.Equal(!IsOpen(shard), drained.Ended);
            var (start, end) = Range(shard);
            foreach (var (sequence, data) in drained.Records)
            {
                Assert.True(seen.TryAdd(data, (shardId, sequence)), $"{data} read twice");
            }

            if (drained.Ended)
            {
                // ChildShards cover the parent's range (a merge child covers more).
                var children = drained.ChildShards!.Select(c => Range(c!)).OrderBy(r => r.Start).ToList();
                Assert.True(children[0].Start <= start && children[^1].End >= end, shardId);
            }
        }

        Assert.Equal(acked.Count, seen.Count);
        foreach (var a in acked)
        {
            Assert.True(seen.TryGetValue(a.Data, out var found), $"{a.Data} acknowledged on {a.ShardId} but not read");
            Assert.Equal((a.ShardId, a.SequenceNumber), found);
        }
    }
}
