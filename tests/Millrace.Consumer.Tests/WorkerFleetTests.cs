using System.Diagnostics;
using System.Globalization;
using Millrace.Client;
using Xunit.Abstractions;
using static Millrace.Consumer.Tests.TestSupport;

namespace Millrace.Consumer.Tests;

/// <summary>Consumer workers as separate OS processes against one real server: failover after kill -9, rebalancing
/// when a worker joins, resharding while consuming, restart after a graceful shutdown.</summary>
public sealed class WorkerFleetTests(ConsumerServerFixture fixture, ITestOutputHelper output) : IClassFixture<ConsumerServerFixture>
{
    // Short in the suite; MILLRACE_CONSUMER_FAILOVER_MS=10000 measures the default (docs/consumer.md).
    private static readonly int FailoverMs = int.TryParse(Environment.GetEnvironmentVariable("MILLRACE_CONSUMER_FAILOVER_MS"), out var ms) ? ms : 3000;

    private Dictionary<string, string> WorkerOptions(string app, string stream, string mode = "polling", string checkpoint = "batch") => new()
    {
        ["kinesis"] = fixture.Server.Endpoint,
        ["dynamodb"] = fixture.Server.DynamoDbEndpoint,
        ["app"] = app,
        ["stream"] = stream,
        ["failover-ms"] = FailoverMs.ToString(CultureInfo.InvariantCulture),
        ["idle-ms"] = "100",
        ["sync-ms"] = "1000",
        ["parent-poll-ms"] = "200",
        ["mode"] = mode,
        ["checkpoint"] = checkpoint,
        ["initial"] = "TRIM_HORIZON",
    };

    private static string Dump(IEnumerable<WorkerProcess> workers) => string.Join("\n", workers.Select(w => w.Dump()));

    [Fact]
    public async Task Killed_workers_leases_move_to_the_others_and_a_new_worker_gets_its_share()
    {
        using var kinesis = fixture.NewKinesis();
        using var dynamo = fixture.NewDynamoDb();
        var stream = ConsumerServerFixture.UniqueName("fleet");
        var app = ConsumerServerFixture.UniqueName("fleet-app");
        await CreateStreamAsync(kinesis, stream, 8);
        await using var producer = new TestProducer(kinesis, stream, keys: 32, TimeSpan.FromMilliseconds(50), maxBatches: 1200, TimeSpan.FromSeconds(90));

        var workers = new List<WorkerProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
                workers.Add(WorkerProcess.Start($"w{i}", WorkerOptions(app, stream)));
            foreach (var w in workers)
                await w.WaitReadyAsync(TimeSpan.FromSeconds(30));

            // 8 leases over 3 workers: 3, 3, 2.
            var balanced = await WaitForLeasesAsync(dynamo, app, leases =>
            {
                var counts = OwnerCounts(leases);
                return leases.Count == 8 && counts.Count == 3 && counts.Values.Sum() == 8 && counts.Values.Max() - counts.Values.Min() <= 1;
            }, TimeSpan.FromSeconds(40), () => Dump(workers));
            output.WriteLine($"3 workers balanced 8 leases {balanced.TotalSeconds:F2} s after all were ready");
            await Task.Delay(1000); // let every worker read and checkpoint a little

            // kill -9 one worker: its leases expire after the failover time and the two others take them.
            var victim = workers[0];
            var victimLeases = OwnerCounts(await LeasesAsync(dynamo, app))[victim.WorkerId];
            victim.Kill();
            var failover = await WaitForLeasesAsync(dynamo, app, leases =>
            {
                var counts = OwnerCounts(leases);
                return !counts.ContainsKey(victim.WorkerId) && counts.Values.Sum() == 8;
            }, TimeSpan.FromSeconds(30), () => Dump(workers));
            output.WriteLine($"FAILOVER: {victimLeases} leases of the killed worker held by the others {failover.TotalSeconds:F2} s after kill -9 (failover time {FailoverMs} ms)");
            // The issue's promise: within the failover time. The slack covers this test's 50 ms polling of the lease
            // table and the few lease-table writes of the take on a loaded 2-core machine, not the algorithm.
            Assert.True(failover < TimeSpan.FromMilliseconds(FailoverMs + 500), $"failover took {failover}");

            // A new worker joins: it steals one lease per taker pass from the most loaded worker until 3, 3, 2.
            var joiner = WorkerProcess.Start("w3", WorkerOptions(app, stream));
            workers.Add(joiner);
            await joiner.WaitReadyAsync(TimeSpan.FromSeconds(30));
            var rebalance = await WaitForLeasesAsync(dynamo, app, leases =>
            {
                var counts = OwnerCounts(leases);
                return counts.Count == 3 && counts.ContainsKey(joiner.WorkerId) && counts.Values.Sum() == 8 && counts.Values.Max() - counts.Values.Min() <= 1;
            }, TimeSpan.FromSeconds(30), () => Dump(workers));
            output.WriteLine($"REBALANCE: new worker holds {OwnerCounts(await LeasesAsync(dynamo, app))[joiner.WorkerId]} leases, counts balanced {rebalance.TotalSeconds:F2} s after it was ready");

            await producer.StopAsync();
            var sent = producer.Sent;
            var live = workers.Skip(1).ToList();
            await WaitUntilAsync(() => live.SelectMany(w => w.Of("R")).Select(r => r.Fields[4]).ToHashSet().IsSupersetOf(
                sent.Except(victim.Of("R").Select(r => r.Fields[4]))), TimeSpan.FromSeconds(30), () => Dump(workers));
            foreach (var w in live)
                Assert.Equal(0, await w.ShutdownAsync(TimeSpan.FromSeconds(30)));

            output.WriteLine($"{sent.Count} records sent, {workers.Sum(w => w.Of("R").Count())} processed (with re-deliveries after failover and steals)");
            AssertAllProcessedInOrderPerKey(sent, workers.SelectMany(w => w.Of("R")));
            Assert.Contains(workers.SelectMany(w => w.Lines), l => l.Kind == "LOG" && l.Fields[0].StartsWith("lease stolen", StringComparison.Ordinal));
            // A worker whose lease was stolen learnt it at its next renewal and called LeaseLost.
            Assert.NotEmpty(workers.SelectMany(w => w.Of("L")));
            // Graceful shutdown evicted every lease.
            Assert.All(await LeasesAsync(dynamo, app), l => Assert.Null(l.LeaseOwner));
        }
        finally
        {
            foreach (var w in workers)
                await w.DisposeAsync();
        }
    }

    [Fact]
    public async Task Split_and_merge_while_consuming_keep_order_per_key_and_parents_before_children()
    {
        using var kinesis = fixture.NewKinesis();
        using var dynamo = fixture.NewDynamoDb();
        var stream = ConsumerServerFixture.UniqueName("reshard");
        var app = ConsumerServerFixture.UniqueName("reshard-app");
        await CreateStreamAsync(kinesis, stream, 2);
        await using var producer = new TestProducer(kinesis, stream, keys: 24, TimeSpan.FromMilliseconds(50), maxBatches: 1000, TimeSpan.FromSeconds(60));
        var workers = new List<WorkerProcess>();
        try
        {
            for (var i = 0; i < 2; i++)
                workers.Add(WorkerProcess.Start($"r{i}", WorkerOptions(app, stream)));
            foreach (var w in workers)
                await w.WaitReadyAsync(TimeSpan.FromSeconds(30));
            await WaitUntilAsync(() => workers.SelectMany(w => w.Of("R")).Count() > 200, TimeSpan.FromSeconds(30), () => Dump(workers));

            // Split shard 0 at the middle of its range (children 2 and 3), then merge the two children (child 4).
            var shards = (await kinesis.ListShardsAsync(new ListShardsRequest { StreamName = stream })).Shards!;
            var shard0 = shards.Single(s => s.ShardId!.EndsWith("00000", StringComparison.Ordinal));
            var start = UInt128.Parse(shard0.HashKeyRange!.StartingHashKey!, CultureInfo.InvariantCulture);
            var end = UInt128.Parse(shard0.HashKeyRange.EndingHashKey!, CultureInfo.InvariantCulture);
            await kinesis.SplitShardAsync(new SplitShardRequest
            {
                StreamName = stream, ShardToSplit = shard0.ShardId, NewStartingHashKey = (start + (end - start) / 2).ToString(CultureInfo.InvariantCulture),
            });
            await WaitActiveAsync(kinesis, stream);
            await WaitForLeasesAsync(dynamo, app, leases => leases.Count(l => l.ParentShardIds.Contains(shard0.ShardId!) && l.Checkpoint is { IsSentinel: false }) == 2,
                TimeSpan.FromSeconds(30), () => Dump(workers));
            var open = (await kinesis.ListShardsAsync(new ListShardsRequest { StreamName = stream })).Shards!
                .Where(s => s.ParentShardId == shard0.ShardId).OrderBy(s => UInt128.Parse(s.HashKeyRange!.StartingHashKey!, CultureInfo.InvariantCulture)).ToList();
            await kinesis.MergeShardsAsync(new MergeShardsRequest { StreamName = stream, ShardToMerge = open[0].ShardId, AdjacentShardToMerge = open[1].ShardId });
            await WaitActiveAsync(kinesis, stream);
            await WaitForLeasesAsync(dynamo, app, leases => leases.Any(l => l.ParentShardIds.Count == 2 && l.Checkpoint is { IsSentinel: false }),
                TimeSpan.FromSeconds(30), () => Dump(workers));
            await Task.Delay(500);

            await producer.StopAsync();
            var sent = producer.Sent;
            await WaitUntilAsync(() => workers.SelectMany(w => w.Of("R")).Select(r => r.Fields[4]).ToHashSet().IsSupersetOf(sent),
                TimeSpan.FromSeconds(30), () => Dump(workers));
            foreach (var w in workers)
                Assert.Equal(0, await w.ShutdownAsync(TimeSpan.FromSeconds(30)));

            var records = workers.SelectMany(w => w.Of("R")).ToList();
            AssertAllProcessedInOrderPerKey(sent, records);
            // Parents before children: every record of a parent shard was processed before any record of its children,
            // and every parent ended with a SHARD_END checkpoint.
            var leasesAfter = await LeasesAsync(dynamo, app);
            var byShard = records.GroupBy(r => r.Shard).ToDictionary(g => g.Key, g => (First: g.Min(r => r.Ticks), Last: g.Max(r => r.Ticks)));
            var children = leasesAfter.Where(l => l.ParentShardIds.Count > 0).ToList();
            Assert.Equal(3, children.Count);
            foreach (var child in children)
            {
                Assert.True(byShard.ContainsKey(child.LeaseKey), $"child {child.LeaseKey} processed nothing");
                foreach (var parent in child.ParentShardIds)
                {
                    Assert.True(leasesAfter.Single(l => l.LeaseKey == parent).IsShardEnd, $"parent {parent} has no SHARD_END checkpoint");
                    Assert.Contains(child.LeaseKey, leasesAfter.Single(l => l.LeaseKey == parent).ChildShardIds);
                    Assert.True(byShard[parent].Last <= byShard[child.LeaseKey].First, $"{child.LeaseKey} processed before its parent {parent} was done");
                }
            }
            Assert.Equal(3, workers.SelectMany(w => w.Of("E")).Select(e => e.Shard).Distinct().Count());
        }
        finally
        {
            foreach (var w in workers)
                await w.DisposeAsync();
        }
    }

    [Fact]
    public async Task Restart_after_graceful_shutdown_resumes_after_the_sub_sequence_checkpoint_over_fan_out()
    {
        using var kinesis = fixture.NewKinesis();
        using var dynamo = fixture.NewDynamoDb();
        var stream = ConsumerServerFixture.UniqueName("restart");
        var app = ConsumerServerFixture.UniqueName("restart-app");
        await CreateStreamAsync(kinesis, stream, 2);
        // KPL aggregates of 10 user records; the processor checkpoints exactly at every 7th record, so checkpoints
        // fall inside aggregates.
        var producer = new TestProducer(kinesis, stream, keys: 6, TimeSpan.FromMilliseconds(20), maxBatches: 15, TimeSpan.FromSeconds(30), aggregateSize: 10);
        await producer.StopWhenDoneAsync();
        var options = WorkerOptions(app, stream, mode: "fanout", checkpoint: "every:7");

        var first = WorkerProcess.Start("first", options);
        WorkerProcess? second = null;
        try
        {
            await first.WaitReadyAsync(TimeSpan.FromSeconds(30));
            var firstBatch = producer.Sent;
            await WaitUntilAsync(() => first.Of("R").Select(r => r.Fields[4]).ToHashSet().IsSupersetOf(firstBatch), TimeSpan.FromSeconds(30), () => first.Dump());
            Assert.Equal(0, await first.ShutdownAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(2, first.Of("S").Count());
            var checkpoints = (await LeasesAsync(dynamo, app)).ToDictionary(l => l.LeaseKey, l => l.Checkpoint!.Value);
            Assert.All(checkpoints.Values, c => Assert.False(c.IsSentinel));
            Assert.Contains(checkpoints.Values, c => c.SubSequenceNumber is > 0 and < 9);

            // More records while no worker runs, then a new worker process for the same application.
            var more = new TestProducer(kinesis, stream, keys: 6, TimeSpan.FromMilliseconds(20), maxBatches: 5, TimeSpan.FromSeconds(30), aggregateSize: 10);
            await more.StopWhenDoneAsync();
            second = WorkerProcess.Start("second", options);
            await second.WaitReadyAsync(TimeSpan.FromSeconds(30));
            await WaitUntilAsync(() => second.Of("R").Select(r => r.Fields[4]).ToHashSet().IsSupersetOf(more.Sent), TimeSpan.FromSeconds(30), () => second.Dump());
            Assert.Equal(0, await second.ShutdownAsync(TimeSpan.FromSeconds(30)));

            foreach (var (shard, checkpoint) in checkpoints)
            {
                var redelivered = second.Of("R").Where(r => r.Shard == shard)
                    .Select(r => new ExtendedSequenceNumber(r.Fields[1], long.Parse(r.Fields[2], CultureInfo.InvariantCulture))).ToList();
                // Nothing at or before the checkpoint comes again ...
                Assert.All(redelivered, p => Assert.True(p > checkpoint, $"{p} re-delivered on {shard} though checkpointed at {checkpoint}"));
                // ... and delivery resumes right after it: the first record is the checkpoint's successor in the first run.
                var firstRun = first.Of("R").Where(r => r.Shard == shard)
                    .Select(r => new ExtendedSequenceNumber(r.Fields[1], long.Parse(r.Fields[2], CultureInfo.InvariantCulture))).ToList();
                var successor = firstRun.SkipWhile(p => p <= checkpoint).Cast<ExtendedSequenceNumber?>().FirstOrDefault();
                if (successor is not null)
                    Assert.Equal(successor, redelivered[0]);
            }
            AssertAllProcessedInOrderPerKey([.. producer.Sent, .. more.Sent], [.. first.Of("R"), .. second.Of("R")]);
            Assert.Contains(first.Of("R"), r => r.Fields[2] == "9"); // user records came out of aggregates
        }
        finally
        {
            await first.DisposeAsync();
            if (second is not null)
                await second.DisposeAsync();
        }
    }
}
