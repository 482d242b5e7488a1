using System.Buffers.Binary;
using System.Diagnostics;
using Millrace.Aggregation;
using Millrace.Client;
using Xunit.Abstractions;
using static Millrace.Producer.Tests.ProducerTestSupport;

namespace Millrace.Producer.Tests;

/// <summary>Large runs through the producer against a real `millrace serve`, read back with GetRecords and the Deaggregator.</summary>
public class ProducerEndToEndTests(ITestOutputHelper output)
{
    private const int DataLength = 12;

    /// <summary>Random alphanumeric partition keys, 4 to 24 characters.</summary>
    private static string[] RandomKeys(Random random, int count)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        var keys = new HashSet<string>();
        while (keys.Count < count)
        {
            var chars = new char[random.Next(4, 25)];
            for (int i = 0; i < chars.Length; i++)
            {
                chars[i] = alphabet[random.Next(alphabet.Length)];
            }

            keys.Add(new string(chars));
        }

        return [.. keys];
    }

    /// <summary>The records to send: a random key each, and data = (index, key index, count of that key so far),
    /// all slices of one buffer so the test itself allocates nothing per record.</summary>
    private sealed class Workload
    {
        public Workload(int count, int keyCount, int seed)
        {
            var random = new Random(seed);
            Keys = RandomKeys(random, keyCount);
            KeyOf = new int[count];
            Buffer = new byte[count * DataLength];
            var perKey = new int[keyCount];
            for (int i = 0; i < count; i++)
            {
                int k = random.Next(keyCount);
                KeyOf[i] = k;
                var span = Buffer.AsSpan(i * DataLength, DataLength);
                BinaryPrimitives.WriteInt32LittleEndian(span, i);
                BinaryPrimitives.WriteInt32LittleEndian(span[4..], k);
                BinaryPrimitives.WriteInt32LittleEndian(span[8..], perKey[k]++);
            }

            Sequence = new string?[count];
            SubSequence = new long[count];
            Shard = new string?[count];
            Outcome = new int[count];
            Attempts = new int[count];
        }

        public string[] Keys { get; }
        public int[] KeyOf { get; }
        public byte[] Buffer { get; }
        public string?[] Sequence { get; }
        public long[] SubSequence { get; }
        public string?[] Shard { get; }

        /// <summary>0: not completed, 1: succeeded, 2: failed with UserRecordFailedException.</summary>
        public int[] Outcome { get; }

        /// <summary>How many PutRecords attempts each record's result lists.</summary>
        public int[] Attempts { get; }

        public int Count => KeyOf.Length;

        public ReadOnlyMemory<byte> Data(int i) => Buffer.AsMemory(i * DataLength, DataLength);

        public async Task RecordAsync(int i, Task<UserRecordResult> task)
        {
            try
            {
                var r = await task;
                Assert.True(r.Successful);
                Sequence[i] = r.SequenceNumber;
                SubSequence[i] = r.SubSequenceNumber;
                Shard[i] = r.ShardId;
                Attempts[i] = r.Attempts.Count;
                Outcome[i] = 1;
            }
            catch (UserRecordFailedException e)
            {
                Assert.False(e.Result.Successful);
                Assert.NotEmpty(e.Result.Attempts);
                Attempts[i] = e.Result.Attempts.Count;
                Outcome[i] = 2;
            }
        }
    }

    /// <summary>Sends the workload with EnqueueUserRecordAsync (its await is the back-pressure), keeping a window of
    /// result tasks; <paramref name="onProgress"/> runs after each record is accepted.</summary>
    private static async Task ProduceAsync(KinesisProducer producer, string stream, Workload w, TimeSpan bound, Func<int, Task>? onProgress = null)
    {
        var stopwatch = Stopwatch.StartNew();
        var window = new Queue<(int Index, Task<UserRecordResult> Task)>();
        for (int i = 0; i < w.Count; i++)
        {
            Assert.True(stopwatch.Elapsed < bound, $"only {i} of {w.Count} records accepted within {bound}");
            var task = await producer.EnqueueUserRecordAsync(stream, w.Keys[w.KeyOf[i]], w.Data(i));
            window.Enqueue((i, task));
            while (window.Count > 0 && (window.Peek().Task.IsCompleted || window.Count > 250_000))
            {
                var (j, t) = window.Dequeue();
                await w.RecordAsync(j, t);
            }

            if (onProgress is not null)
            {
                await onProgress(i);
            }
        }

        await producer.FlushAsync().WaitAsync(bound);
        while (window.TryDequeue(out var item))
        {
            await w.RecordAsync(item.Index, item.Task.WaitAsync(bound));
        }
    }

    [Fact]
    public async Task AMillionSmallRecordsArriveExactlyOnceInOrderPerPartitionKey()
    {
        await using var server = await MillraceProcess.StartAsync();
        using var client = new KinesisClient(OptionsFor(server));
        var stream = await CreateStreamAsync(client, "million", 4);
        var w = new Workload(1_000_000, 20_000, seed: 6);
        // The server enforces no limits here; the per-shard limiter would otherwise hold the run to 1.5 MiB/s a shard.
        var config = new KinesisProducerConfiguration { RateLimit = 1_000_000 };
        await using (var producer = new KinesisProducer(config, OptionsFor(server)))
        {
            await ProduceAsync(producer, stream, w, TimeSpan.FromSeconds(75));
            Assert.Equal(0, producer.OutstandingRecordsCount);
        }

        Assert.All(w.Outcome, o => Assert.Equal(1, o));
        var shards = await ReadAllAsync(client, stream);
        var seen = new bool[w.Count];
        var nextPerKey = new int[w.Keys.Length];
        int aggregated = 0;
        foreach (var (shardId, records) in shards)
        {
            Assert.Equal(records.Count, records.Select(r => (r.SequenceNumber, r.SubSequenceNumber)).Distinct().Count());
            foreach (var r in records)
            {
                var span = r.Data.Span;
                int i = BinaryPrimitives.ReadInt32LittleEndian(span);
                int k = BinaryPrimitives.ReadInt32LittleEndian(span[4..]);
                int n = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
                Assert.False(seen[i], $"record {i} arrived twice");
                seen[i] = true;
                Assert.Equal(w.Keys[k], r.PartitionKey);
                // In order per partition key: each key's records arrive with consecutive counters.
                Assert.Equal(nextPerKey[k], n);
                nextPerKey[k] = n + 1;
                // Where the producer said it put it.
                Assert.Equal(shardId, w.Shard[i]);
                Assert.Equal(r.SequenceNumber, w.Sequence[i]);
                Assert.Equal(r.SubSequenceNumber, w.SubSequence[i]);
                aggregated += r.Aggregated ? 1 : 0;
            }
        }

        Assert.All(seen, Assert.True);
        Assert.True(aggregated > w.Count / 2, $"only {aggregated} of {w.Count} user records were aggregated");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AServerRestartMidRunLosesNothing(bool killed)
    {
        await using var server = await MillraceProcess.StartAsync();
        using var client = new KinesisClient(OptionsFor(server));
        var stream = await CreateStreamAsync(client, "restart", 2);
        var w = new Workload(120_000, 5_000, seed: 7);
        var config = new KinesisProducerConfiguration { RateLimit = 1_000_000, MaxOutstandingRecords = 50_000 };
        Task? restart = null;
        await using (var producer = new KinesisProducer(config, OptionsFor(server)))
        {
            await ProduceAsync(producer, stream, w, TimeSpan.FromSeconds(60), async i =>
            {
                // Mid-run: once 30,000 records have been put (the producer is past its first shard map and calls),
                // with up to MaxOutstandingRecords buffered or in flight.
                if (restart is null && i + 1 - producer.OutstandingRecordsCount >= 30_000)
                {
                    // Down mid-run (SIGTERM, or SIGKILL with calls in flight): in-flight calls fail, the producer
                    // backs off and retries until it is back.
                    if (killed)
                    {
                        server.Kill();
                    }
                    else
                    {
                        await server.StopAsync();
                    }

                    restart = Task.Run(async () =>
                    {
                        await Task.Delay(300);
                        await server.RestartOnSamePortAsync();
                    });
                }
            });
        }

        Assert.NotNull(restart);
        await restart;
        // Every task completed, successfully or with an error: none left pending.
        Assert.DoesNotContain(0, w.Outcome);
        int succeeded = w.Outcome.Count(o => o == 1);
        int retried = w.Attempts.Count(a => a > 1);
        output.WriteLine($"{succeeded} of {w.Count} records succeeded across the {(killed ? "SIGKILL" : "SIGTERM")} restart, {retried} after more than one attempt");
        // The restart really hit records in flight or buffered: their calls failed and were retried.
        Assert.True(retried > 0, "no record needed a retry: the restart missed the run");
        // The server is down for about a second, far less than RecordTtl (30 s), so backoff and retries put every
        // record: nothing is lost, not even as an error.
        Assert.Equal(w.Count, succeeded);
        var found = new Dictionary<(string, string, long), int>();
        foreach (var (shardId, records) in await ReadAllAsync(client, stream))
        {
            foreach (var r in records)
            {
                found.TryAdd((shardId, r.SequenceNumber, r.SubSequenceNumber), BinaryPrimitives.ReadInt32LittleEndian(r.Data.Span));
            }
        }

        // Every success is where its result says, with its own data.
        for (int i = 0; i < w.Count; i++)
        {
            if (w.Outcome[i] == 1)
            {
                Assert.True(found.TryGetValue((w.Shard[i]!, w.Sequence[i]!, w.SubSequence[i]), out int index), $"record {i} missing");
                Assert.Equal(i, index);
            }
        }
    }
}
