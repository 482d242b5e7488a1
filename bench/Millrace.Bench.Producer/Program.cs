using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Millrace.Client;
using Millrace.Client.Auth;
using Millrace.Producer;
using Millrace.Testing;

namespace Millrace.Bench.Producer;

/// <summary>
/// User records per second through KinesisProducer, with and without aggregation: 100-byte records, random
/// partition keys, a 4-shard stream on a `millrace serve` child process (or --endpoint) on loopback. Each scenario
/// warms up, then adds records as fast as back-pressure allows, bounded in count and time, and ends when FlushAsync
/// returns (every record put). Writes a Markdown table and JSON lines.
///
///   dotnet run -c Release --project bench/Millrace.Bench.Producer -- [--records N] [--seconds S] [--endpoint URL] [--out bench/results/producer]
/// </summary>
public static class Program
{
    private const int RecordSize = 100;

    private sealed record Scenario(string Name, bool Aggregation, int Records);

    private sealed record Result(string Scenario, bool Aggregation, int Shards, int RecordBytes, int UserRecords, int Failed, double Seconds,
        double UserRecordsPerSecond, double MegabytesPerSecond, long KinesisRecords, long PutRecordsCalls, double ProducerCpuSeconds, double AllocatedBytesPerRecord);

    public static async Task<int> Main(string[] args)
    {
        int records = IntArg(args, "--records", 1_000_000);
        double seconds = IntArg(args, "--seconds", 30);
        string? endpoint = StringArg(args, "--endpoint");
        string? output = StringArg(args, "--out");
        const int shards = 4;

        MillraceProcess? server = endpoint is null ? await MillraceProcess.StartAsync() : null;
        try
        {
            var options = new AwsClientOptions
            {
                Region = "us-east-1",
                ServiceUrl = new Uri(endpoint ?? server!.Endpoint),
                Credentials = new StaticCredentialsProvider(new AwsCredentials("AKIDMILLRACEBENCH", "millrace-bench-secret")),
            };
            using var client = new KinesisClient(options);
            var keys = Keys(new Random(1), 100_000);
            var data = new byte[RecordSize * 1024];
            new Random(2).NextBytes(data);

            var results = new List<Result>();
            Scenario[] scenarios =
            [
                new("aggregation on", true, records),
                new("aggregation off", false, records),
            ];
            foreach (var scenario in scenarios)
            {
                var stream = $"bench-producer-{Guid.NewGuid():N}"[..30];
                await client.CreateStreamAsync(new CreateStreamRequest { StreamName = stream, ShardCount = shards });
                await Task.Delay(200);
                var config = new KinesisProducerConfiguration
                {
                    AggregationEnabled = scenario.Aggregation,
                    // The server enforces no limits; the KPL's 150% limiter would measure the limiter, not the producer.
                    RateLimit = 1_000_000,
                };
                await using var producer = new KinesisProducer(config, options);
                await RunAsync(producer, stream, keys, data, Math.Min(20_000, scenario.Records), TimeSpan.FromSeconds(10)); // warm-up
                var result = await MeasureAsync(producer, stream, keys, data, scenario, shards, TimeSpan.FromSeconds(seconds));
                results.Add(result);
                Console.WriteLine(JsonSerializer.Serialize(result));
            }

            var md = Markdown(results, records, seconds, endpoint);
            Console.Write(md);
            if (output is not null)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
                await File.WriteAllTextAsync(output + ".md", md);
                await File.WriteAllLinesAsync(output + ".jsonl", results.Select(r => JsonSerializer.Serialize(r)));
            }

            return results.All(r => r.Failed == 0) ? 0 : 1;
        }
        finally
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }
    }

    private static async Task<Result> MeasureAsync(KinesisProducer producer, string stream, string[] keys, byte[] data, Scenario scenario, int shards, TimeSpan bound)
    {
        long kinesisRecords = 0, calls = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == producer.Metrics.Meter && instrument.Name is "KinesisRecordsPut" or "KinesisRecordsPerPutRecordsRequest")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            if (instrument.Name == "KinesisRecordsPut")
            {
                Interlocked.Add(ref kinesisRecords, value);
            }
            else
            {
                Interlocked.Increment(ref calls);
            }
        });
        listener.Start();

        GC.Collect();
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        long allocated = GC.GetTotalAllocatedBytes(precise: false);
        var stopwatch = Stopwatch.StartNew();
        var (done, failed) = await RunAsync(producer, stream, keys, data, scenario.Records, bound);
        double elapsed = stopwatch.Elapsed.TotalSeconds;
        double cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        double allocatedPerRecord = (double)(GC.GetTotalAllocatedBytes(precise: false) - allocated) / Math.Max(1, done);
        return new Result(scenario.Name, scenario.Aggregation, shards, RecordSize, done, failed, Math.Round(elapsed, 3),
            Math.Round(done / elapsed), Math.Round(done * (double)RecordSize / elapsed / 1e6, 1), kinesisRecords, calls,
            Math.Round(cpuSeconds, 2), Math.Round(allocatedPerRecord));
    }

    /// <summary>Adds up to <paramref name="count"/> records (fewer if <paramref name="bound"/> passes first), each
    /// awaited for room only (back-pressure), then flushes. Returns the records added and how many failed (added
    /// minus the UserRecordsPut metric), so the run attaches nothing to each record's task.</summary>
    private static async Task<(int Done, int Failed)> RunAsync(KinesisProducer producer, string stream, string[] keys, byte[] data, int count, TimeSpan bound)
    {
        long put = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == producer.Metrics.Meter && instrument.Name == "UserRecordsPut")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref put, value));
        listener.Start();
        var stopwatch = Stopwatch.StartNew();
        int added = 0;
        var random = new Random(3);
        for (; added < count && (added % 4096 != 0 || stopwatch.Elapsed < bound); added++)
        {
            _ = await producer.EnqueueUserRecordAsync(stream, keys[random.Next(keys.Length)], data.AsMemory(RecordSize * (added & 1023), RecordSize));
        }

        await producer.FlushAsync();
        return (added, added - (int)Interlocked.Read(ref put));
    }

    private static string Markdown(List<Result> results, int records, double seconds, string? endpoint)
    {
        var sb = new StringBuilder()
            .AppendLine("# Producer throughput (`bench/Millrace.Bench.Producer`)")
            .AppendLine()
            .AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.ProcessorCount} cores; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC. Up to {records:N0} user records of {RecordSize} bytes per scenario (at most {seconds} s), random partition keys from 100,000, 4 shards, RateLimit 1000000 (no client-side limiter), other settings at the KPL defaults; server: {(endpoint is null ? "`millrace serve` child process on loopback" : endpoint)}. A run ends when FlushAsync returns: every record put.")
            .AppendLine()
            .AppendLine("| scenario | user records | seconds | user records/s | MB/s (user data) | Kinesis records | PutRecords calls | producer CPU s | allocated B/record | failed |")
            .AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Scenario} | {r.UserRecords:N0} | {r.Seconds:F2} | {r.UserRecordsPerSecond:N0} | {r.MegabytesPerSecond:F1} | {r.KinesisRecords:N0} | {r.PutRecordsCalls:N0} | {r.ProducerCpuSeconds:F2} | {r.AllocatedBytesPerRecord:N0} | {r.Failed} |");
        }

        return sb.ToString();
    }

    private static string[] Keys(Random random, int count)
    {
        var keys = new string[count];
        for (int i = 0; i < count; i++)
        {
            keys[i] = $"user-{random.NextInt64():x16}";
        }

        return keys;
    }

    private static int IntArg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string? StringArg(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
