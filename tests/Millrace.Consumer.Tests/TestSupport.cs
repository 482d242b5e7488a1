using System.Diagnostics;
using System.Globalization;
using System.Text;
using Millrace.Aggregation;
using Millrace.Client;
using Millrace.Client.DynamoDb;
using Millrace.Consumer.Leases;

namespace Millrace.Consumer.Tests;

/// <summary>A bounded producer: every batch holds one record per partition key ("pk-i"), whose data is "pk-i:n" with
/// n counting up per key, so order per key can be checked. Stops at <see cref="StopAsync"/>, after maxBatches, or
/// after maxDuration, whichever comes first.</summary>
public sealed class TestProducer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly List<string> _sent = [];
    private readonly int[] _next;

    public TestProducer(KinesisClient kinesis, string stream, int keys, TimeSpan interval, int maxBatches, TimeSpan maxDuration, int aggregateSize = 0)
    {
        _next = new int[keys];
        _loop = Task.Run(async () =>
        {
            var deadline = Stopwatch.StartNew();
            for (var batch = 0; batch < maxBatches && deadline.Elapsed < maxDuration && !_stop.IsCancellationRequested; batch++)
            {
                await PutBatchAsync(kinesis, stream, aggregateSize);
                try
                {
                    await Task.Delay(interval, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        });
    }

    /// <summary>Data of every record acknowledged, in the order sent.</summary>
    public IReadOnlyList<string> Sent { get { lock (_sent) { return [.. _sent]; } } }

    private async Task PutBatchAsync(KinesisClient kinesis, string stream, int aggregateSize)
    {
        var entries = new List<PutRecordsRequestEntry>();
        var data = new List<string>();
        if (aggregateSize <= 0)
        {
            for (var k = 0; k < _next.Length; k++)
            {
                var value = $"pk-{k}:{_next[k]++}";
                data.Add(value);
                entries.Add(new PutRecordsRequestEntry { PartitionKey = $"pk-{k}", Data = Encoding.UTF8.GetBytes(value) });
            }
        }
        else
        {
            // KPL aggregates: each holds aggregateSize records of one key (so it goes to that key's shard, as the KPL
            // only aggregates records predicted for the same shard).
            for (var k = 0; k < _next.Length; k++)
            {
                var builder = new AggregatedRecordBuilder();
                for (var i = 0; i < aggregateSize; i++)
                {
                    var value = $"pk-{k}:{_next[k]++}";
                    data.Add(value);
                    builder.Add($"pk-{k}", null, Encoding.UTF8.GetBytes(value));
                }
                var envelope = builder.Build();
                entries.Add(new PutRecordsRequestEntry { PartitionKey = envelope.PartitionKey, ExplicitHashKey = envelope.ExplicitHashKey, Data = envelope.Data });
            }
        }
        var response = await kinesis.PutRecordsAsync(new PutRecordsRequest { StreamName = stream, Records = entries });
        if (response.FailedRecordCount is > 0)
            throw new InvalidOperationException($"{response.FailedRecordCount} records failed");
        lock (_sent)
            _sent.AddRange(data);
    }

    /// <summary>Waits until the producer has sent all its batches.</summary>
    public Task StopWhenDoneAsync() => _loop;

    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _loop;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { await _loop; } catch (Exception) { }
        _stop.Dispose();
    }
}

public static class TestSupport
{
    public static async Task CreateStreamAsync(KinesisClient kinesis, string stream, int shards)
    {
        await kinesis.CreateStreamAsync(new CreateStreamRequest { StreamName = stream, ShardCount = shards });
        await WaitActiveAsync(kinesis, stream);
    }

    public static async Task WaitActiveAsync(KinesisClient kinesis, string stream)
    {
        for (var i = 0; i < 300; i++)
        {
            var summary = await kinesis.DescribeStreamSummaryAsync(new DescribeStreamSummaryRequest { StreamName = stream });
            if (summary.StreamDescriptionSummary!.StreamStatus == StreamStatus.ACTIVE)
                return;
            await Task.Delay(100);
        }
        throw new TimeoutException($"{stream} not ACTIVE");
    }

    public static async Task<List<Lease>> LeasesAsync(DynamoDbClient dynamo, string table)
    {
        try
        {
            return await new DynamoDbLeaseRefresher(dynamo, table).ListLeasesAsync(CancellationToken.None);
        }
        catch (Client.DynamoDb.ResourceNotFoundException)
        {
            return [];
        }
    }

    /// <summary>Polls the lease table until <paramref name="condition"/> holds; returns the time it took.</summary>
    public static async Task<TimeSpan> WaitForLeasesAsync(DynamoDbClient dynamo, string table, Func<List<Lease>, bool> condition,
        TimeSpan timeout, Func<string> diagnostics)
    {
        var watch = Stopwatch.StartNew();
        List<Lease> leases = [];
        while (watch.Elapsed < timeout)
        {
            leases = await LeasesAsync(dynamo, table);
            if (condition(leases))
                return watch.Elapsed;
            await Task.Delay(50);
        }
        throw new TimeoutException($"lease condition not reached in {timeout}; leases:\n{string.Join('\n', leases)}\n{diagnostics()}");
    }

    public static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, Func<string> diagnostics)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout)
                throw new TimeoutException($"condition not reached in {timeout}\n{diagnostics()}");
            await Task.Delay(100);
        }
    }

    /// <summary>Every sent record was processed at least once, and per partition key the first processing of each
    /// record happened in the order the records were sent.</summary>
    public static void AssertAllProcessedInOrderPerKey(IReadOnlyList<string> sent, IEnumerable<WorkerLine> records)
    {
        var first = new Dictionary<string, long>();
        foreach (var r in records.OrderBy(r => r.Ticks))
            first.TryAdd(r.Fields[4], r.Ticks);
        var missing = sent.Where(s => !first.ContainsKey(s)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} of {sent.Count} records never processed, e.g. {string.Join(", ", missing.Take(10))}");
        foreach (var key in sent.GroupBy(s => s[..s.IndexOf(':')]))
        {
            var ordered = key.OrderBy(s => int.Parse(s[(s.IndexOf(':') + 1)..], CultureInfo.InvariantCulture)).ToList();
            for (var i = 1; i < ordered.Count; i++)
                Assert.True(first[ordered[i - 1]] <= first[ordered[i]], $"{ordered[i]} was processed before {ordered[i - 1]}");
        }
    }

    public static Dictionary<string, int> OwnerCounts(IEnumerable<Lease> leases) =>
        leases.Where(l => !l.IsShardEnd && l.LeaseOwner is not null).GroupBy(l => l.LeaseOwner!).ToDictionary(g => g.Key, g => g.Count());
}
