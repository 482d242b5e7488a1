using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Text;
using Millrace.Aggregation;
using Millrace.Client;
using static Millrace.Consumer.Tests.TestSupport;

namespace Millrace.Consumer.Tests;

/// <summary>A Scheduler in the test process against a real server: initial positions, checkpointer rules, metrics,
/// graceful shutdown, the KCL's aggregate hash-range rule.</summary>
public sealed class SchedulerTests(ConsumerServerFixture fixture) : IClassFixture<ConsumerServerFixture>
{
    private sealed class Recorder : IShardRecordProcessorFactory, IShardRecordProcessor
    {
        public ConcurrentQueue<KinesisClientRecord> Records { get; } = new();
        public ConcurrentQueue<string> Events { get; } = new();
        public ConcurrentQueue<Exception> CheckpointErrors { get; } = new();
        public bool ProbeCheckpointer { get; init; }

        public IShardRecordProcessor CreateProcessor() => this;

        public Task InitializeAsync(InitializationInput input)
        {
            Events.Enqueue($"initialize {input.ShardId} {input.ExtendedSequenceNumber.SequenceNumber}");
            return Task.CompletedTask;
        }

        public async Task ProcessRecordsAsync(ProcessRecordsInput input)
        {
            foreach (var r in input.Records)
                Records.Enqueue(r);
            if (ProbeCheckpointer)
            {
                var last = input.Records[^1];
                var beyond = (System.Numerics.BigInteger.Parse(last.SequenceNumber) + 1).ToString();
                await Catch(() => input.Checkpointer.CheckpointAsync(beyond, 0));
                await Catch(() => input.Checkpointer.CheckpointAsync(last.SequenceNumber, last.SubSequenceNumber + 1));
                await Catch(() => input.Checkpointer.CheckpointAsync(last.SequenceNumber, -1));
                await Catch(() => input.Checkpointer.CheckpointAsync("TRIM_HORIZON"));
                await input.Checkpointer.CheckpointAsync(input.Records[0]);
                await Catch(() => input.Checkpointer.CheckpointAsync("0", 0)); // before the last checkpoint
            }
            await input.Checkpointer.CheckpointAsync();
        }

        private async Task Catch(Func<Task> checkpoint)
        {
            try
            {
                await checkpoint();
                CheckpointErrors.Enqueue(new InvalidOperationException("no exception"));
            }
            catch (ArgumentException e)
            {
                CheckpointErrors.Enqueue(e);
            }
        }

        public Task LeaseLostAsync(LeaseLostInput input)
        {
            Events.Enqueue($"leaseLost {input.ShardId}");
            return Task.CompletedTask;
        }

        public async Task ShardEndedAsync(ShardEndedInput input)
        {
            await input.Checkpointer.CheckpointAsync();
            Events.Enqueue("shardEnded");
        }

        public async Task ShutdownRequestedAsync(ShutdownRequestedInput input)
        {
            await input.Checkpointer.CheckpointAsync();
            Events.Enqueue($"shutdownRequested {input.Checkpointer.ShardId} {input.Checkpointer.LastCheckpointValue}");
        }
    }

    private ConsumerConfig Config(string stream, string app, InitialPositionInStream position, DateTime? timestamp = null, bool dropOutside = false) => new()
    {
        ApplicationName = app,
        StreamName = stream,
        WorkerId = "in-process",
        FailoverTime = TimeSpan.FromSeconds(3),
        IdleTimeBetweenReads = TimeSpan.FromMilliseconds(50),
        RetrievalMode = RetrievalMode.Polling,
        InitialPosition = position,
        InitialPositionTimestamp = timestamp,
        DropAggregatesOutsideShardHashRange = dropOutside,
    };

    private static async Task PutAsync(KinesisClient kinesis, string stream, params string[] values)
    {
        foreach (var v in values)
            await kinesis.PutRecordAsync(new PutRecordRequest { StreamName = stream, PartitionKey = "k", Data = Encoding.UTF8.GetBytes(v) });
    }

    [Fact]
    public async Task Checkpointer_rules_metrics_and_graceful_shutdown()
    {
        using var kinesis = fixture.NewKinesis();
        using var dynamo = fixture.NewDynamoDb();
        var stream = ConsumerServerFixture.UniqueName("sched");
        var app = ConsumerServerFixture.UniqueName("sched-app");
        await CreateStreamAsync(kinesis, stream, 1);
        await PutAsync(kinesis, stream, "a", "b", "c");

        var measurements = new ConcurrentDictionary<string, double>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ConsumerMetrics.MeterName)
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((i, v, _, _) => measurements.AddOrUpdate(i.Name, v, (_, old) => old + v));
        listener.SetMeasurementEventCallback<int>((i, v, _, _) => measurements[i.Name] = Math.Max(measurements.GetValueOrDefault(i.Name), v));
        listener.SetMeasurementEventCallback<double>((i, v, _, _) => measurements.AddOrUpdate(i.Name, 1, (_, old) => old + 1));
        listener.Start();

        var recorder = new Recorder { ProbeCheckpointer = true };
        var scheduler = new Scheduler(Config(stream, app, InitialPositionInStream.TrimHorizon), recorder, kinesis, dynamo);
        var run = scheduler.RunAsync();
        await WaitUntilAsync(() => recorder.Records.Count >= 3, TimeSpan.FromSeconds(20), () => string.Join('\n', recorder.Events));
        listener.RecordObservableInstruments();
        Assert.True(await scheduler.StartGracefulShutdownAsync());
        await run;
        await scheduler.DisposeAsync();

        Assert.Equal(["a", "b", "c"], recorder.Records.Select(r => Encoding.UTF8.GetString(r.Data.Span)));
        var errors = recorder.CheckpointErrors.ToList();
        Assert.NotEmpty(errors);
        Assert.All(errors, e => Assert.IsAssignableFrom<ArgumentException>(e));
        Assert.Contains(recorder.Events, e => e.StartsWith("shutdownRequested shardId-000000000000", StringComparison.Ordinal));

        var lease = Assert.Single(await LeasesAsync(dynamo, app));
        Assert.Null(lease.LeaseOwner); // evicted
        Assert.Equal(recorder.Records.Last().SequenceNumber, lease.Checkpoint!.Value.SequenceNumber);

        Assert.Equal(3, measurements["RecordsProcessed"]);
        Assert.Equal(3, measurements["BytesProcessed"]);
        Assert.Equal(1, measurements["CurrentLeases"]);
        Assert.True(measurements.ContainsKey("MillisBehindLatest"));
        Assert.Equal(1, measurements["LeasesTaken"]);
        Assert.True(measurements["Checkpoints"] >= 2);
    }

    [Fact]
    public async Task Latest_and_at_timestamp_start_where_asked()
    {
        using var kinesis = fixture.NewKinesis();
        using var dynamo = fixture.NewDynamoDb();
        var stream = ConsumerServerFixture.UniqueName("pos");
        await CreateStreamAsync(kinesis, stream, 1);
        await PutAsync(kinesis, stream, "old-1", "old-2");
        await Task.Delay(1100);
        var timestamp = DateTime.UtcNow;
        await Task.Delay(1100);
        await PutAsync(kinesis, stream, "mid-1");

        var latest = new Recorder();
        var latestScheduler = new Scheduler(Config(stream, ConsumerServerFixture.UniqueName("latest"), InitialPositionInStream.Latest), latest, kinesis, dynamo);
        var latestRun = latestScheduler.RunAsync();
        var atTimestamp = new Recorder();
        var atScheduler = new Scheduler(Config(stream, ConsumerServerFixture.UniqueName("at"), InitialPositionInStream.AtTimestamp, timestamp), atTimestamp, kinesis, dynamo);
        var atRun = atScheduler.RunAsync();
        // LATEST starts at the tip when the shard consumer first reads: wait until it has initialized and read once.
        await WaitUntilAsync(() => latest.Events.Any(e => e.StartsWith("initialize", StringComparison.Ordinal)), TimeSpan.FromSeconds(20), () => "");
        await Task.Delay(500);
        await PutAsync(kinesis, stream, "new-1");
        await WaitUntilAsync(() => latest.Records.Count >= 1 && atTimestamp.Records.Count >= 2, TimeSpan.FromSeconds(20),
            () => string.Join(',', atTimestamp.Records.Select(r => Encoding.UTF8.GetString(r.Data.Span))));
        await latestScheduler.StartGracefulShutdownAsync();
        await atScheduler.StartGracefulShutdownAsync();
        await Task.WhenAll(latestRun, atRun);
        await latestScheduler.DisposeAsync();
        await atScheduler.DisposeAsync();

        Assert.Equal(["new-1"], latest.Records.Select(r => Encoding.UTF8.GetString(r.Data.Span)));
        Assert.Equal(["mid-1", "new-1"], atTimestamp.Records.Select(r => Encoding.UTF8.GetString(r.Data.Span)));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Aggregates_spanning_shards_are_delivered_unless_the_kcl_rule_is_asked_for(bool dropOutside)
    {
        using var kinesis = fixture.NewKinesis();
        using var dynamo = fixture.NewDynamoDb();
        var stream = ConsumerServerFixture.UniqueName("span");
        await CreateStreamAsync(kinesis, stream, 2);
        // Keys on both halves of the hash range, in one aggregate routed (by the first key) to one shard.
        var keys = Enumerable.Range(0, 40).Select(i => $"key-{i}").ToList();
        var low = keys.First(k => KplHashKey.FromPartitionKey(k) < UInt128.MaxValue / 2);
        var high = keys.First(k => KplHashKey.FromPartitionKey(k) > UInt128.MaxValue / 2);
        var builder = new AggregatedRecordBuilder();
        builder.Add(low, null, "x"u8.ToArray());
        builder.Add(high, null, "y"u8.ToArray());
        var spanning = builder.Build();
        var single = new AggregatedRecordBuilder();
        single.Add(low, null, "p"u8.ToArray());
        single.Add(low, null, "q"u8.ToArray());
        var fitting = single.Build();
        foreach (var envelope in new[] { spanning, fitting })
            await kinesis.PutRecordAsync(new PutRecordRequest { StreamName = stream, PartitionKey = envelope.PartitionKey, ExplicitHashKey = envelope.ExplicitHashKey, Data = envelope.Data });

        var recorder = new Recorder();
        var scheduler = new Scheduler(Config(stream, ConsumerServerFixture.UniqueName("span-app"), InitialPositionInStream.TrimHorizon, dropOutside: dropOutside), recorder, kinesis, dynamo);
        var run = scheduler.RunAsync();
        await WaitUntilAsync(() => recorder.Records.Any(r => r.Data.Span.SequenceEqual("q"u8)), TimeSpan.FromSeconds(20), () => "");
        await scheduler.StartGracefulShutdownAsync();
        await run;
        await scheduler.DisposeAsync();

        var data = recorder.Records.Select(r => Encoding.UTF8.GetString(r.Data.Span)).ToList();
        Assert.Equal(dropOutside ? ["p", "q"] : ["x", "y", "p", "q"], data);
        Assert.All(recorder.Records, r => Assert.True(r.Aggregated));
        Assert.Equal(dropOutside ? [0L, 1L] : [0L, 1L, 0L, 1L], recorder.Records.Select(r => r.SubSequenceNumber));
    }
}
