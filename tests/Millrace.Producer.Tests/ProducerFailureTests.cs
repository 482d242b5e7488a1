using System.Diagnostics.Metrics;
using System.Text;
using Millrace.Client;
using static Millrace.Producer.Tests.ProducerTestSupport;

namespace Millrace.Producer.Tests;

/// <summary>Throttling (a server with --enforce-limits), RecordTtl expiry: each on its own server.</summary>
public class ProducerFailureTests
{
    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    [Fact]
    public async Task ThrottledRecordsAreRetriedWithBackoffOrFailAtOnceWithFailIfThrottled()
    {
        await using var server = await MillraceProcess.StartAsync("--enforce-limits", "--shard-write-records-per-sec", "200");
        using var client = new KinesisClient(OptionsFor(server));
        var stream = await CreateStreamAsync(client, "throttled", 1);
        // The producer's own limiter is opened wide so the server's throttling is what it meets.
        var config = new KinesisProducerConfiguration
        {
            AggregationEnabled = false,
            RateLimit = 1_000_000,
            RetryBaseDelay = TimeSpan.FromMilliseconds(40),
            RetryMaxDelay = TimeSpan.FromMilliseconds(400),
        };
        await using (var producer = new KinesisProducer(config, OptionsFor(server)))
        {
            var tasks = Enumerable.Range(0, 500).Select(i => producer.AddUserRecordAsync(stream, $"k{i}", B($"{i}"))).ToList();
            var results = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.All(results, r => Assert.True(r.Successful));
            var retried = results.Where(r => r.Attempts.Count > 1).ToList();
            Assert.NotEmpty(retried);
            foreach (var r in retried)
            {
                Assert.All(r.Attempts.SkipLast(1), a =>
                {
                    Assert.False(a.Success);
                    Assert.Equal("ProvisionedThroughputExceededException", a.ErrorCode);
                });
                Assert.True(r.Attempts[^1].Success);
                // Each retry waited at least half its backoff (equal jitter): 20 ms, 40 ms, ... capped at 400 ms.
                for (int k = 1; k < r.Attempts.Count; k++)
                {
                    Assert.True(r.Attempts[k].Delay >= TimeSpan.FromMilliseconds(Math.Min(400, 40 << (k - 1)) / 2), $"attempt {k} waited {r.Attempts[k].Delay}");
                }
            }
        }

        await Task.Delay(1100); // the shard's budget refills
        config.FailIfThrottled = true;
        await using (var producer = new KinesisProducer(config, OptionsFor(server)))
        {
            var tasks = Enumerable.Range(0, 500).Select(i => producer.AddUserRecordAsync(stream, $"k{i}", B($"{i}"))).ToList();
            await producer.FlushAsync().WaitAsync(TimeSpan.FromSeconds(30));
            var failures = tasks.Where(t => t.IsFaulted).Select(t => Assert.IsType<UserRecordFailedException>(t.Exception!.InnerException)).ToList();
            Assert.NotEmpty(failures);
            Assert.Contains(tasks, t => t.IsCompletedSuccessfully);
            Assert.All(failures, f =>
            {
                Assert.Equal("ProvisionedThroughputExceededException", f.ErrorCode);
                Assert.Single(f.Result.Attempts);
                Assert.False(f.Result.Successful);
            });
        }
    }

    [Fact]
    public async Task RecordsNotPutWithinRecordTtlFailAsExpired()
    {
        await using var server = await MillraceProcess.StartAsync();
        using var client = new KinesisClient(OptionsFor(server));
        var stream = await CreateStreamAsync(client, "ttl", 1);
        var config = new KinesisProducerConfiguration { RecordTtl = TimeSpan.FromMilliseconds(800), RetryBaseDelay = TimeSpan.FromMilliseconds(20) };

        // A stream that does not exist: no shard map, so the records wait for one until their TTL.
        await using (var producer = new KinesisProducer(config, OptionsFor(server)))
        {
            var e = await Assert.ThrowsAsync<UserRecordFailedException>(() => producer.AddUserRecordAsync("no-such-stream", "k", B("x")).WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal("Expired", e.ErrorCode);
        }

        await using (var producer = new KinesisProducer(config, OptionsFor(server)))
        {
            long expired = 0;
            using var listener = new MeterListener();
            listener.InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter == producer.Metrics.Meter && instrument.Name == "UserRecordExpired")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            listener.SetMeasurementEventCallback<long>((_, v, _, _) => Interlocked.Add(ref expired, v));
            listener.Start();

            Assert.True((await producer.AddUserRecordAsync(stream, "k", B("before"))).Successful);
            await server.StopAsync();
            var tasks = Enumerable.Range(0, 20).Select(i => producer.AddUserRecordAsync(stream, $"k{i}", B($"{i}"))).ToList();
            foreach (var t in tasks)
            {
                var e = await Assert.ThrowsAsync<UserRecordFailedException>(() => t.WaitAsync(TimeSpan.FromSeconds(30)));
                Assert.Equal("Expired", e.ErrorCode);
                Assert.False(e.Result.Successful);
                // Before giving up it tried: the connection errors are in the attempts.
                Assert.True(e.Result.Attempts.Count >= 2);
                Assert.All(e.Result.Attempts.SkipLast(1), a => Assert.NotNull(a.ErrorCode));
            }

            Assert.Equal(20, Interlocked.Read(ref expired));
            Assert.Equal(0, producer.OutstandingRecordsCount);
        }
    }
}
