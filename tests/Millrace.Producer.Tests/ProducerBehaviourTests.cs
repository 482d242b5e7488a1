using System.Diagnostics.Metrics;
using System.Text;
using Millrace.Aggregation;
using Millrace.Client;
using static Millrace.Producer.Tests.ProducerTestSupport;

namespace Millrace.Producer.Tests;

public sealed class ServerFixture : IAsyncLifetime
{
    private MillraceProcess? _server;

    public MillraceProcess Server => _server ?? throw new InvalidOperationException("not started");

    public KinesisClient NewClient() => new(OptionsFor(Server));

    public async Task InitializeAsync() => _server = await MillraceProcess.StartAsync();

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>Resharding, back-pressure, raw records, flush and dispose, metrics: on one shared server.</summary>
public class ProducerBehaviourTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task ReshardingMidRunRefreshesTheShardMapAndEveryAcknowledgedAggregateStaysInItsShardsRange()
    {
        using var client = fixture.NewClient();
        var stream = await CreateStreamAsync(client, "reshard", 2);
        var before = (await ListShardsAsync(client, stream)).Select(s => s.ShardId!).ToHashSet();
        var config = new KinesisProducerConfiguration { RateLimit = 1_000_000, RecordMaxBufferedTime = TimeSpan.FromMilliseconds(20) };
        var tasks = new List<(int Index, string Key, Task<UserRecordResult> Task)>();
        var random = new Random(11);
        await using (var producer = new KinesisProducer(config, OptionsFor(fixture.Server)))
        {
            for (int i = 0; i < 30_000; i++)
            {
                var key = $"k{random.Next(3000)}";
                tasks.Add((i, key, producer.AddUserRecordAsync(stream, key, BitConverter.GetBytes(i))));
                if (i % 1000 == 999)
                {
                    await Task.Delay(10);
                }

                if (i == 10_000)
                {
                    await client.UpdateShardCountAsync(new UpdateShardCountRequest { StreamName = stream, TargetShardCount = 4, ScalingType = "UNIFORM_SCALING" });
                }
            }

            await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(60));
        }

        var shards = await ListShardsAsync(client, stream);
        var range = shards.ToDictionary(s => s.ShardId!, s => (KplHashKey.Parse(s.HashKeyRange!.StartingHashKey!), KplHashKey.Parse(s.HashKeyRange.EndingHashKey!)));
        var stored = await ReadAllAsync(client, stream);
        var byPosition = stored.SelectMany(kv => kv.Value.Select(r => (Shard: kv.Key, Record: r)))
            .ToDictionary(x => (x.Shard, x.Record.SequenceNumber, x.Record.SubSequenceNumber), x => x.Record);
        var acknowledgedAggregates = new HashSet<(string, string)>();
        foreach (var (i, key, task) in tasks)
        {
            var result = await task;
            Assert.True(result.Successful);
            var r = byPosition[(result.ShardId!, result.SequenceNumber!, result.SubSequenceNumber)];
            Assert.Equal(key, r.PartitionKey);
            Assert.Equal(i, BitConverter.ToInt32(r.Data.Span));
            acknowledgedAggregates.Add((result.ShardId!, result.SequenceNumber!));
        }

        // After the reshard the producer learned the children and put records there.
        Assert.Contains(tasks, t => !before.Contains(t.Task.Result.ShardId!));
        // A KCL consumer drops an aggregate with any record outside its shard's range: none acknowledged is like that.
        foreach (var (shardId, records) in stored)
        {
            foreach (var r in records.Where(r => acknowledgedAggregates.Contains((shardId, r.SequenceNumber))))
            {
                var hash = KplHashKey.Effective(r.PartitionKey, r.ExplicitHashKey);
                Assert.InRange(hash, range[shardId].Item1, range[shardId].Item2);
            }
        }
    }

    [Fact]
    public async Task AddingAwaitsRoomWhenTheBufferIsFull()
    {
        using var client = fixture.NewClient();
        var stream = await CreateStreamAsync(client, "backpressure", 1);
        // Nothing is sent until flushed: records stay outstanding, so the bound is reached deterministically.
        var config = new KinesisProducerConfiguration
        {
            MaxOutstandingRecords = 10,
            RecordMaxBufferedTime = TimeSpan.FromHours(1),
            RecordTtl = TimeSpan.FromHours(1),
        };
        await using var producer = new KinesisProducer(config, OptionsFor(fixture.Server));
        var accepted = Enumerable.Range(0, 10).Select(i => producer.AddUserRecordAsync(stream, $"k{i}", B($"r{i}"))).ToList();
        Assert.Equal(10, producer.OutstandingRecordsCount);
        Assert.All(accepted, t => Assert.False(t.IsCompleted));

        var waitingForRoom = producer.EnqueueUserRecordAsync(stream, "k10", B("r10"));
        var waitingAdd = producer.AddUserRecordAsync(stream, "k11", B("r11"));
        using var cancel = new CancellationTokenSource();
        var canceled = producer.EnqueueUserRecordAsync(stream, "k12", B("never sent"), cancellationToken: cancel.Token).AsTask();
        Assert.False(waitingForRoom.IsCompleted);
        Assert.False(waitingAdd.IsCompleted);
        Assert.Equal(10, producer.OutstandingRecordsCount);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => canceled);

        await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var inner = await waitingForRoom;
        var results = await Task.WhenAll([.. accepted, inner, waitingAdd]);
        Assert.All(results, r => Assert.True(r.Successful));
        Assert.Equal(0, producer.OutstandingRecordsCount);
        var stored = (await ReadAllAsync(client, stream)).Values.Single();
        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"r{i}"), stored.Select(r => Encoding.UTF8.GetString(r.Data.Span)).Order(StringComparer.Ordinal).OrderBy(s => s.Length));
    }

    [Fact]
    public async Task BufferedBytesAreBoundedToo()
    {
        using var client = fixture.NewClient();
        var stream = await CreateStreamAsync(client, "backpressure-bytes", 1);
        var config = new KinesisProducerConfiguration { MaxBufferedBytes = 1000, RecordMaxBufferedTime = TimeSpan.FromHours(1), RecordTtl = TimeSpan.FromHours(1) };
        await using var producer = new KinesisProducer(config, OptionsFor(fixture.Server));
        var first = producer.AddUserRecordAsync(stream, "k", new byte[600]);
        var second = producer.EnqueueUserRecordAsync(stream, "k", new byte[600]);
        Assert.False(second.IsCompleted);
        Assert.Equal(1, producer.OutstandingRecordsCount);
        await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True((await first).Successful);
        Assert.True((await await second).Successful);
    }

    [Fact]
    public async Task WithoutAggregationAndForLargeRecordsRecordsGoRaw()
    {
        using var client = fixture.NewClient();
        var stream = await CreateStreamAsync(client, "raw", 2);
        var results = new List<(string Key, byte[] Data, Task<UserRecordResult> Task)>();
        await using (var off = new KinesisProducer(new KinesisProducerConfiguration { AggregationEnabled = false }, OptionsFor(fixture.Server)))
        {
            for (int i = 0; i < 500; i++)
            {
                var data = B($"off-{i}");
                results.Add(($"k{i % 7}", data, off.AddUserRecordAsync(stream, $"k{i % 7}", data)));
            }
        }

        await using (var on = new KinesisProducer(new KinesisProducerConfiguration { AggregationMaxSize = 4096 }, OptionsFor(fixture.Server)))
        {
            for (int i = 0; i < 200; i++)
            {
                // Every tenth record is larger than an aggregate may be: it goes on its own, in its place.
                var data = i % 10 == 0 ? Enumerable.Repeat((byte)i, 5000).ToArray() : B($"on-{i}");
                results.Add(("big-and-small", data, on.AddUserRecordAsync(stream, "big-and-small", data)));
            }
        }

        var stored = await ReadAllAsync(client, stream);
        var byPosition = stored.SelectMany(kv => kv.Value.Select(r => (Shard: kv.Key, Record: r)))
            .ToDictionary(x => (x.Shard, x.Record.SequenceNumber, x.Record.SubSequenceNumber), x => x.Record);
        foreach (var (key, data, task) in results)
        {
            var result = await task;
            var r = byPosition[(result.ShardId!, result.SequenceNumber!, result.SubSequenceNumber)];
            Assert.Equal(key, r.PartitionKey);
            Assert.Equal(data, r.Data.ToArray());
            Assert.Equal(data.Length >= 4096 || Encoding.UTF8.GetString(data).StartsWith("off-", StringComparison.Ordinal), !r.Aggregated);
        }

        // The mixed key's records arrive in the order added.
        var mixed = stored.Values.SelectMany(v => v).Where(r => r.PartitionKey == "big-and-small").ToList();
        Assert.Equal(results.Where(r => r.Key == "big-and-small").Select(r => r.Data), mixed.Select(r => r.Data.ToArray()));
    }

    [Fact]
    public async Task DisposeFlushesAndCompletesEveryTaskThenRefusesRecords()
    {
        using var client = fixture.NewClient();
        var stream = await CreateStreamAsync(client, "dispose", 1);
        var producer = new KinesisProducer(new KinesisProducerConfiguration { RecordMaxBufferedTime = TimeSpan.FromHours(1), RecordTtl = TimeSpan.FromHours(1) }, OptionsFor(fixture.Server));
        var tasks = Enumerable.Range(0, 100).Select(i => producer.AddUserRecordAsync(stream, "k", B($"{i}"))).ToList();
        Assert.All(tasks, t => Assert.False(t.IsCompleted));
        await producer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.All(tasks, t => Assert.True(t.IsCompletedSuccessfully));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), tasks.Select(t => t.Result.SubSequenceNumber));
        Assert.Throws<ObjectDisposedException>(() => { _ = producer.AddUserRecordAsync(stream, "k", B("late")); });
    }

    [Fact]
    public async Task InvalidRecordsAreRefusedAtOnce()
    {
        await using var producer = new KinesisProducer(new KinesisProducerConfiguration { MaxUserRecordSize = 1000 }, OptionsFor(fixture.Server));
        Assert.Throws<ArgumentException>(() => { _ = producer.AddUserRecordAsync("s", "", B("x")); });
        Assert.Throws<ArgumentException>(() => { _ = producer.AddUserRecordAsync("s", new string('k', 257), B("x")); });
        Assert.Throws<ArgumentException>(() => { _ = producer.AddUserRecordAsync("s", "k", B("x"), explicitHashKey: "340282366920938463463374607431768211456"); });
        Assert.Throws<ArgumentException>(() => { _ = producer.AddUserRecordAsync("s", "k", new byte[1000]); });
        Assert.Throws<ArgumentOutOfRangeException>(() => new KinesisProducerConfiguration { CollectionMaxCount = 501 }.Validate());
        Assert.Throws<ArgumentOutOfRangeException>(() => new KinesisProducerConfiguration { RecordTtl = TimeSpan.FromMilliseconds(50) }.Validate());
    }

    [Fact]
    public async Task MetricsUseTheKplNamesAndDimensions()
    {
        using var client = fixture.NewClient();
        var stream = await CreateStreamAsync(client, "metrics", 2);
        var shardIds = (await ListShardsAsync(client, stream)).Select(s => s.ShardId!).ToHashSet();
        await using var producer = new KinesisProducer(new KinesisProducerConfiguration(), OptionsFor(fixture.Server));
        var sums = new Dictionary<string, double>();
        var counts = new Dictionary<string, int>();
        var tags = new Dictionary<string, HashSet<string>>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == producer.Metrics.Meter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        void OnMeasurement(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> measurementTags)
        {
            lock (sums)
            {
                sums[instrument.Name] = sums.GetValueOrDefault(instrument.Name) + value;
                counts[instrument.Name] = counts.GetValueOrDefault(instrument.Name) + 1;
                foreach (var t in measurementTags)
                {
                    var set = tags.TryGetValue(instrument.Name + "/" + t.Key, out var s) ? s : tags[instrument.Name + "/" + t.Key] = [];
                    set.Add(t.Value?.ToString() ?? "");
                }
            }
        }

        listener.SetMeasurementEventCallback<long>((i, v, t, _) => OnMeasurement(i, v, t));
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => OnMeasurement(i, v, t));
        listener.Start();
        Assert.Equal(ProducerMetrics.MeterName, producer.Metrics.Meter.Name);

        var tasks = Enumerable.Range(0, 1000).Select(i => producer.AddUserRecordAsync(stream, $"key-{i}", new byte[10])).ToList();
        await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
        await Task.WhenAll(tasks);
        listener.RecordObservableInstruments();

        Assert.Equal(1000, sums["UserRecordsReceived"]);
        Assert.Equal(1000, sums["UserRecordsPut"]);
        Assert.Equal(10_000, sums["UserRecordsDataPut"]);
        Assert.InRange(sums["KinesisRecordsPut"], 2, 1000);
        Assert.Equal(sums["KinesisRecordsPut"], counts["UserRecordsPerKinesisRecord"]);
        Assert.Equal(1000, sums["UserRecordsPerKinesisRecord"]);
        Assert.Equal(1000, sums["UserRecordsPerPutRecordsRequest"]);
        Assert.Equal(sums["KinesisRecordsPut"], sums["KinesisRecordsPerPutRecordsRequest"]);
        Assert.True(sums["KinesisRecordsDataPut"] > 10_000);
        Assert.Equal(1000, counts["BufferingTime"]);
        Assert.Equal(1000, counts["RetriesPerRecord"]);
        Assert.Equal(0, sums["RetriesPerRecord"]);
        Assert.True(counts["RequestTime"] >= 2);
        Assert.Equal(0, sums["UserRecordsPending"]);
        Assert.False(sums.ContainsKey("AllErrors"));
        Assert.Equal([stream], tags["UserRecordsReceived/StreamName"]);
        Assert.Equal(shardIds, tags["UserRecordsPut/ShardId"]);
    }
}
