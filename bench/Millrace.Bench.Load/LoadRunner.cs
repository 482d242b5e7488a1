using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;

namespace Millrace.Bench.Load;

/// <summary>Runs the scenarios one after the other against one endpoint, each on a stream of its own.</summary>
public static class LoadRunner
{
    private const int SmallRecordBytes = 100;
    private const int LargeRecordBytes = 10 * 1024;
    private const int LargeRecordsPerRequest = 100;
    private const int LatencyProducers = 4;
    private const int LatencyRecordsPerSecond = 1000;
    private static readonly JsonSerializerOptions JsonLines = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static async Task<List<ScenarioResult>> RunAsync(LoadOptions options, TextWriter jsonLines, CancellationToken ct)
    {
        var results = new List<ScenarioResult>();
        using var wire = new KinesisWire(options.Endpoint, options.Concurrency + options.Shards + LatencyProducers);
        string label = options.Label ?? options.Endpoint.Authority;
        foreach (var scenario in options.Scenarios)
        {
            ScenarioResult result;
            try
            {
                result = scenario switch
                {
                    "put-record" => await PutAsync(wire, options, scenario, PutRecordBodies, "PutRecord", ct),
                    "put-records" => await PutAsync(wire, options, scenario, s => [PutRecordsBody(s, 500, SmallRecordBytes)], "PutRecords", ct),
                    "put-records-10k" => await PutAsync(wire, options, scenario, s => [PutRecordsBody(s, LargeRecordsPerRequest, LargeRecordBytes)], "PutRecords", ct),
                    "get-catchup" => await CatchUpAsync(wire, options, ct),
                    "latency" => await LatencyAsync(wire, options, ct),
                    _ => throw new ArgumentException(scenario),
                };
            }
            catch (Exception e) when (e is KinesisCallException or HttpRequestException or TaskCanceledException or InvalidOperationException or JsonException or KeyNotFoundException)
            {
                result = new ScenarioResult { Server = label, Scenario = scenario, Error = e.Message };
            }

            result = result with
            {
                Server = label,
                Scenario = scenario,
                Shards = options.Shards,
                ServerPeakRssMiB = ProcessStats.PeakRssMiB(options.ServerPid),
            };
            results.Add(result);
            await jsonLines.WriteLineAsync(JsonSerializer.Serialize(result, JsonLines));
            await jsonLines.FlushAsync(ct);
        }

        return results;
    }

    // ---- bodies, built before the clock starts ----

    private static byte[][] PutRecordBodies(string stream)
    {
        var data = Convert.ToBase64String(Payload(SmallRecordBytes));
        return [.. Enumerable.Range(0, 64).Select(i => Encoding.UTF8.GetBytes($$"""{"StreamName":"{{stream}}","PartitionKey":"pk-{{i}}","Data":"{{data}}"}"""))];
    }

    private static byte[] PutRecordsBody(string stream, int count, int recordBytes)
    {
        var data = Convert.ToBase64String(Payload(recordBytes));
        var sb = new StringBuilder();
        sb.Append($$"""{"StreamName":"{{stream}}","Records":[""");
        for (int i = 0; i < count; i++)
        {
            sb.Append(i == 0 ? "" : ",").Append($$"""{"PartitionKey":"pk-{{i}}","Data":"{{data}}"}""");
        }

        return Encoding.UTF8.GetBytes(sb.Append("]}").ToString());
    }

    private static byte[] Payload(int bytes)
    {
        // Printable bytes: moto answers GetRecords with HTTP 500 when a record's data is not UTF-8.
        var rng = new Random(42);
        var b = new byte[bytes];
        for (int i = 0; i < b.Length; i++)
        {
            b[i] = (byte)('a' + rng.Next(26));
        }

        return b;
    }

    // ---- scenarios ----

    private static async Task<ScenarioResult> PutAsync(KinesisWire wire, LoadOptions o, string scenario, Func<string, byte[][]> bodies, string operation, CancellationToken ct)
    {
        var stream = await CreateStreamAsync(wire, scenario, o.Shards, ct);
        var built = bodies(stream);
        int perRequest = operation == "PutRecords" ? scenario == "put-records" ? 500 : LargeRecordsPerRequest : 1;
        int recordBytes = scenario == "put-records-10k" ? LargeRecordBytes : SmallRecordBytes;

        await PutLoopAsync(wire, o, operation, built, perRequest, o.WarmupSeconds, o.MaxRequests, ct);
        double cpu0 = ProcessStats.CpuSeconds(o.ServerPid) ?? 0;
        var m = await PutLoopAsync(wire, o, operation, built, perRequest, o.Seconds, o.MaxRequests, ct);
        double? cpu = ProcessStats.CpuSeconds(o.ServerPid) - cpu0;
        return new ScenarioResult
        {
            Server = "",
            Scenario = scenario,
            Concurrency = o.Concurrency,
            Seconds = Math.Round(m.Seconds, 3),
            Requests = m.Requests,
            Records = m.Records,
            FailedRecords = m.Failed,
            ErrorResponses = m.Errors,
            RecordsPerSecond = Math.Round(m.Records / m.Seconds),
            MegabytesPerSecond = Math.Round(m.Records * (double)recordBytes / m.Seconds / 1e6, 1),
            ServerCpuSeconds = cpu is null ? null : Math.Round(cpu.Value, 2),
            Error = m.FirstError,
        };
    }

    private sealed class Tally
    {
        public long Requests;
        public long Records;
        public long Failed;
        public long Errors;
        public double Seconds;
        public string? FirstError;
    }

    private static async Task<Tally> PutLoopAsync(KinesisWire wire, LoadOptions o, string operation, byte[][] bodies, int perRequest, double seconds, long maxRequests, CancellationToken ct)
    {
        var t = new Tally();
        if (seconds <= 0)
        {
            return t;
        }

        long issued = 0;
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        async Task Worker(int id)
        {
            var buffer = new ResponseBuffer();
            int next = id;
            while (clock.Elapsed < deadline && Interlocked.Increment(ref issued) <= maxRequests)
            {
                var body = bodies[next++ % bodies.Length];
                var (status, length) = await wire.SendAsync(operation, body, buffer, ct);
                Interlocked.Increment(ref t.Requests);
                if (status != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref t.Errors);
                    t.FirstError ??= $"HTTP {(int)status} {Encoding.UTF8.GetString(buffer.Span(Math.Min(length, 300)))}";
                    if (status == HttpStatusCode.BadRequest)
                    {
                        await Task.Delay(50, ct); // throttled: back off a little, as a client would
                    }

                    continue;
                }

                long failed = operation == "PutRecords" ? Math.Max(0, JsonScan.Number(buffer.Span(length), "\"FailedRecordCount\""u8)) : 0;
                Interlocked.Add(ref t.Failed, failed);
                Interlocked.Add(ref t.Records, perRequest - failed);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, o.Concurrency).Select(i => Task.Run(() => Worker(i), ct)));
        t.Seconds = clock.Elapsed.TotalSeconds;
        return t;
    }

    private static async Task<ScenarioResult> CatchUpAsync(KinesisWire wire, LoadOptions o, CancellationToken ct)
    {
        var stream = await CreateStreamAsync(wire, "get-catchup", o.Shards, ct);
        var body = PutRecordsBody(stream, 500, SmallRecordBytes);
        // Fill: bounded by the record target and by three times the scenario duration.
        var fill = await PutLoopAsync(wire, o, "PutRecords", [body], 500, o.Seconds * 3, (o.CatchupRecords + 499) / 500, ct);
        var shardIds = await ShardIdsAsync(wire, stream, ct);

        double cpu0 = ProcessStats.CpuSeconds(o.ServerPid) ?? 0;
        long records = 0, requests = 0, errors = 0;
        string? firstError = fill.FirstError;
        var clock = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(Math.Max(o.Seconds * 3, 1));
        async Task ReadShard(string shardId)
        {
            using var it = await wire.CallAsync("GetShardIterator", new { StreamName = stream, ShardId = shardId, ShardIteratorType = "TRIM_HORIZON" }, ct);
            // Kept in its escaped JSON form: later ones come straight out of responses (moto's end in "\n").
            string? iterator = Escaped(it.RootElement.GetProperty("ShardIterator").GetString()!);
            var buffer = new ResponseBuffer();
            while (iterator is not null && clock.Elapsed < deadline)
            {
                var (status, length) = await wire.SendAsync("GetRecords", Encoding.UTF8.GetBytes($$"""{"ShardIterator":"{{iterator}}","Limit":10000}"""), buffer, ct);
                Interlocked.Increment(ref requests);
                if (status != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref errors);
                    firstError ??= $"GetRecords: HTTP {(int)status} {Encoding.UTF8.GetString(buffer.Span(Math.Min(length, 300)))}";
                    await Task.Delay(100, ct);
                    continue;
                }

                var json = buffer.Span(length);
                int n = JsonScan.Count(json, "\"SequenceNumber\""u8);
                Interlocked.Add(ref records, n);
                iterator = JsonScan.String(json, "\"NextShardIterator\""u8);
                if (n == 0 && JsonScan.Number(json, "\"MillisBehindLatest\""u8) <= 0)
                {
                    break; // caught up
                }
            }
        }

        await Task.WhenAll(shardIds.Select(s => Task.Run(() => ReadShard(s), ct)));
        double secs = clock.Elapsed.TotalSeconds;
        double? cpu = ProcessStats.CpuSeconds(o.ServerPid) - cpu0;
        return new ScenarioResult
        {
            Server = "",
            Scenario = "get-catchup",
            Concurrency = shardIds.Count,
            Seconds = Math.Round(secs, 3),
            Requests = requests,
            Records = records,
            FailedRecords = Math.Max(0, fill.Records - records), // written but not read back
            ErrorResponses = errors + fill.Errors,
            RecordsPerSecond = Math.Round(records / secs),
            MegabytesPerSecond = Math.Round(records * (double)SmallRecordBytes / secs / 1e6, 1),
            ServerCpuSeconds = cpu is null ? null : Math.Round(cpu.Value, 2),
            Error = firstError,
        };
    }

    private static async Task<ScenarioResult> LatencyAsync(KinesisWire wire, LoadOptions o, CancellationToken ct)
    {
        var stream = await CreateStreamAsync(wire, "latency", o.Shards, ct);
        var shardIds = await ShardIdsAsync(wire, stream, ct);
        var iterators = new List<string>();
        foreach (var s in shardIds)
        {
            using var it = await wire.CallAsync("GetShardIterator", new { StreamName = stream, ShardId = s, ShardIteratorType = "LATEST" }, ct);
            iterators.Add(Escaped(it.RootElement.GetProperty("ShardIterator").GetString()!));
        }

        var latencies = new List<double>();
        long sent = 0, errors = 0, requests = 0;
        string? firstError = null;
        using var stopConsumers = CancellationTokenSource.CreateLinkedTokenSource(ct);
        double cpu0 = ProcessStats.CpuSeconds(o.ServerPid) ?? 0;
        var clock = Stopwatch.StartNew();
        var produceFor = TimeSpan.FromSeconds(o.Seconds);

        async Task Consume(string iterator)
        {
            var buffer = new ResponseBuffer();
            var token = stopConsumers.Token;
            while (!token.IsCancellationRequested)
            {
                (HttpStatusCode status, int length) r;
                try
                {
                    r = await wire.SendAsync("GetRecords", Encoding.UTF8.GetBytes($$"""{"ShardIterator":"{{iterator}}"}"""), buffer, token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                Interlocked.Increment(ref requests);
                if (r.status != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref errors);
                    firstError ??= $"GetRecords: HTTP {(int)r.status} {Encoding.UTF8.GetString(buffer.Span(Math.Min(r.length, 300)))}";
                    await Delay(200, token);
                    continue;
                }

                var now = Stopwatch.GetTimestamp();
                using var doc = JsonDocument.Parse(buffer.Memory(r.length));
                var records = doc.RootElement.GetProperty("Records");
                foreach (var rec in records.EnumerateArray())
                {
                    var data = rec.GetProperty("Data").GetBytesFromBase64();
                    if (data.Length >= 20 && System.Buffers.Text.Utf8Parser.TryParse(data.AsSpan(0, 20), out long stamp, out _))
                    {
                        lock (latencies)
                        {
                            latencies.Add(Stopwatch.GetElapsedTime(stamp, now).TotalMilliseconds);
                        }
                    }
                }

                iterator = Escaped(doc.RootElement.GetProperty("NextShardIterator").GetString()!);
                if (records.GetArrayLength() == 0)
                {
                    await Delay(o.PollMs, token);
                }
            }
        }

        async Task Produce(int id)
        {
            var buffer = new ResponseBuffer();
            var payload = Payload(SmallRecordBytes);
            var interval = TimeSpan.FromSeconds(LatencyProducers / (double)LatencyRecordsPerSecond);
            var next = clock.Elapsed;
            int n = 0;
            while (clock.Elapsed < produceFor && Interlocked.Read(ref sent) < o.MaxRequests)
            {
                // The send time as 20 ASCII digits (see Payload).
                System.Text.Encoding.ASCII.GetBytes(Stopwatch.GetTimestamp().ToString("D20", System.Globalization.CultureInfo.InvariantCulture), payload);
                var body = Encoding.UTF8.GetBytes($$"""{"StreamName":"{{stream}}","PartitionKey":"p{{id}}-{{n++}}","Data":"{{Convert.ToBase64String(payload)}}"}""");
                var (status, _) = await wire.SendAsync("PutRecord", body, buffer, ct);
                if (status == HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref sent);
                }
                else
                {
                    Interlocked.Increment(ref errors);
                }

                next += interval;
                var wait = next - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, ct);
                }
            }
        }

        var consumers = iterators.Select(i => Task.Run(() => Consume(i), ct)).ToArray();
        await Task.WhenAll(Enumerable.Range(0, LatencyProducers).Select(i => Task.Run(() => Produce(i), ct)));
        // Let the consumers drain what was acknowledged, for at most two seconds.
        var drainUntil = clock.Elapsed + TimeSpan.FromSeconds(2);
        while (clock.Elapsed < drainUntil && Count(latencies) < Interlocked.Read(ref sent))
        {
            await Task.Delay(20, ct);
        }

        await stopConsumers.CancelAsync();
        await Task.WhenAll(consumers);
        double? cpu = ProcessStats.CpuSeconds(o.ServerPid) - cpu0;
        double[] sorted;
        lock (latencies)
        {
            sorted = [.. latencies.Order()];
        }

        return new ScenarioResult
        {
            Server = "",
            Scenario = "latency",
            Concurrency = LatencyProducers,
            Seconds = Math.Round(o.Seconds, 3),
            Requests = requests + sent,
            Records = sorted.Length,
            FailedRecords = Math.Max(0, sent - sorted.Length), // acknowledged but not seen by a consumer
            ErrorResponses = errors,
            RecordsPerSecond = Math.Round(sorted.Length / o.Seconds),
            MegabytesPerSecond = Math.Round(sorted.Length * (double)SmallRecordBytes / o.Seconds / 1e6, 1),
            LatencyP50Ms = Percentile(sorted, 0.50),
            LatencyP99Ms = Percentile(sorted, 0.99),
            LatencyMaxMs = sorted.Length == 0 ? null : Math.Round(sorted[^1], 2),
            ServerCpuSeconds = cpu is null ? null : Math.Round(cpu.Value, 2),
            Error = firstError,
        };
    }

    private static string Escaped(string s) => JsonEncodedText.Encode(s, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value;

    private static int Count(List<double> list)
    {
        lock (list)
        {
            return list.Count;
        }
    }

    private static async Task Delay(int ms, CancellationToken token)
    {
        try
        {
            await Task.Delay(ms, token);
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static double? Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? null : Math.Round(sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)], 2);

    // ---- control plane ----

    private static async Task<string> CreateStreamAsync(KinesisWire wire, string scenario, int shards, CancellationToken ct)
    {
        var name = $"bench-{scenario}-{DateTime.UtcNow:HHmmssfff}";
        (await wire.CallAsync("CreateStream", new { StreamName = name, ShardCount = shards }, ct)).Dispose();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            using var d = await wire.CallAsync("DescribeStreamSummary", new { StreamName = name }, ct);
            if (d.RootElement.GetProperty("StreamDescriptionSummary").GetProperty("StreamStatus").GetString() == "ACTIVE")
            {
                return name;
            }

            await Task.Delay(50, ct);
        }

        throw new InvalidOperationException($"stream {name} did not become ACTIVE within 60 s");
    }

    private static async Task<List<string>> ShardIdsAsync(KinesisWire wire, string stream, CancellationToken ct)
    {
        using var d = await wire.CallAsync("DescribeStream", new { StreamName = stream }, ct);
        return [.. d.RootElement.GetProperty("StreamDescription").GetProperty("Shards").EnumerateArray().Select(s => s.GetProperty("ShardId").GetString()!)];
    }
}
