using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Protocol.EventStream;
using Millrace.Server;
using Millrace.Server.Hosting;

namespace Millrace.Bench.Latency;

/// <summary>
/// Put-to-delivery latency of enhanced fan-out (SubscribeToShard over h2c) for 1 and 10 subscribers, against
/// put-to-get latency of GetRecords polling every 200 ms (the 5 calls/s a shard allows on AWS). Each record's
/// Data is the Stopwatch timestamp taken just before its PutRecord was sent, so latency includes the durable
/// append (fsync), delivery and decoding. Bounded: a fixed number of records per scenario and a time cap.
///
///   dotnet run -c Release --project bench/Millrace.Bench.Latency [-- records [out.md]]
/// </summary>
public static class Program
{
    private const string Shard = "shardId-000000000000";

    public static async Task<int> Main(string[] args)
    {
        int records = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 500;
        string? outPath = args.Length > 1 ? args[1] : null;
        var dataDir = Path.Combine(Path.GetTempPath(), "millrace-bench-latency-" + Guid.NewGuid().ToString("N"));
        try
        {
            await using var host = await MillraceHost.StartAsync(new MillraceServerOptions { Port = 0, DataDirectory = dataDir });
            using var http = new HttpClient(new SocketsHttpHandler { EnableMultipleHttp2Connections = true })
            {
                BaseAddress = host.Endpoint,
                Timeout = Timeout.InfiniteTimeSpan,
                DefaultRequestVersion = HttpVersion.Version20,
                DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            };

            var stream = "latency";
            await CallAsync(http, "CreateStream", new { StreamName = stream, ShardCount = 1 });
            var arn = (await CallAsync(http, "DescribeStreamSummary", new { StreamName = stream }))["StreamDescriptionSummary"]!["StreamARN"]!.GetValue<string>();
            var consumers = new List<string>();
            for (int i = 0; i < 11; i++)
            {
                var c = await CallAsync(http, "RegisterStreamConsumer", new { StreamARN = arn, ConsumerName = $"c{i}" });
                consumers.Add(c["Consumer"]!["ConsumerARN"]!.GetValue<string>());
            }

            var rows = new List<string>();
            await PutAsync(http, stream, 50, measure: false); // warm-up (JIT, connections)
            rows.Add(Row("SubscribeToShard, 1 subscriber", await FanOutAsync(http, stream, consumers.Take(1).ToList(), records)));
            rows.Add(Row("SubscribeToShard, 10 subscribers", await FanOutAsync(http, stream, consumers.Skip(1).ToList(), records)));
            rows.Add(Row("GetRecords polling every 200 ms", await PollingAsync(http, stream, records)));
            rows.Add(Row("(reference) PutRecord round trip", PutRoundTrips));

            var table = new StringBuilder()
                .AppendLine(CultureInfo.InvariantCulture, $"{records} records per scenario, one PutRecord every 2 ms, 1 shard, loopback, in-process server.")
                .AppendLine()
                .AppendLine("| Scenario | deliveries | p50 ms | p99 ms | max ms |")
                .AppendLine("|---|---:|---:|---:|---:|");
            rows.ForEach(r => table.AppendLine(r));
            Console.Write(table);
            if (outPath is not null)
            {
                await File.WriteAllTextAsync(outPath, table.ToString());
            }

            return 0;
        }
        finally
        {
            try { Directory.Delete(dataDir, recursive: true); } catch (IOException) { }
        }
    }

    private static string Row(string name, List<double> ms)
    {
        ms.Sort();
        double P(double q) => ms.Count == 0 ? double.NaN : ms[Math.Min(ms.Count - 1, (int)Math.Ceiling(q * ms.Count) - 1)];
        return string.Create(CultureInfo.InvariantCulture, $"| {name} | {ms.Count} | {P(0.50):F2} | {P(0.99):F2} | {(ms.Count == 0 ? double.NaN : ms[^1]):F2} |");
    }

    private static async Task<List<double>> FanOutAsync(HttpClient http, string stream, List<string> consumers, int records)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var latencies = new List<double>[consumers.Count];
        var ready = new TaskCompletionSource[consumers.Count];
        var readers = new Task[consumers.Count];
        for (int i = 0; i < consumers.Count; i++)
        {
            latencies[i] = new List<double>(records);
            ready[i] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            readers[i] = SubscribeAsync(http, consumers[i], records, latencies[i], ready[i], cts.Token);
        }

        await Task.WhenAll(ready.Select(r => r.Task)).WaitAsync(cts.Token);
        await PutAsync(http, stream, records);
        await Task.WhenAll(readers).WaitAsync(cts.Token);
        return latencies.SelectMany(l => l).ToList();
    }

    private static async Task SubscribeAsync(HttpClient http, string consumerArn, int records, List<double> latencies, TaskCompletionSource ready, CancellationToken ct)
    {
        using var request = Request("SubscribeToShard", new { ConsumerARN = consumerArn, ShardId = Shard, StartingPosition = new { Type = "LATEST" } });
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[1 << 20];
        int length = 0;
        while (latencies.Count < records)
        {
            int read = await body.ReadAsync(buffer.AsMemory(length), ct);
            if (read == 0)
            {
                throw new InvalidOperationException("the subscription ended early");
            }

            length += read;
            int offset = 0;
            while (EventStreamCodec.TryDecode(buffer.AsSpan(offset, length - offset), out var message, out var consumed))
            {
                offset += consumed;
                long now = Stopwatch.GetTimestamp();
                if (message!.GetString(":event-type") == "initial-response")
                {
                    ready.TrySetResult();
                    continue;
                }

                using var doc = JsonDocument.Parse(message.Payload);
                foreach (var r in doc.RootElement.GetProperty("Records").EnumerateArray())
                {
                    latencies.Add(Stopwatch.GetElapsedTime(SentAt(r), now).TotalMilliseconds);
                }
            }

            buffer.AsSpan(offset, length - offset).CopyTo(buffer);
            length -= offset;
        }
    }

    private static async Task<List<double>> PollingAsync(HttpClient http, string stream, int records)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var iterator = (await CallAsync(http, "GetShardIterator", new { StreamName = stream, ShardId = Shard, ShardIteratorType = "LATEST" }))["ShardIterator"]!.GetValue<string>();
        var latencies = new List<double>(records);
        var poller = Task.Run(async () =>
        {
            while (latencies.Count < records)
            {
                var page = await CallAsync(http, "GetRecords", new { ShardIterator = iterator }, cts.Token);
                long now = Stopwatch.GetTimestamp();
                foreach (var r in page["Records"]!.AsArray())
                {
                    var data = Convert.FromBase64String(r!["Data"]!.GetValue<string>());
                    latencies.Add(Stopwatch.GetElapsedTime(BitConverter.ToInt64(data), now).TotalMilliseconds);
                }

                iterator = page["NextShardIterator"]!.GetValue<string>();
                await Task.Delay(200, cts.Token);
            }
        });
        await PutAsync(http, stream, records);
        await poller.WaitAsync(cts.Token);
        return latencies;
    }

    private static long SentAt(JsonElement record) => BitConverter.ToInt64(record.GetProperty("Data").GetBytesFromBase64());

    /// <summary>PutRecord round trips (the durable append, fsync included) of every scenario, for reference.</summary>
    private static readonly List<double> PutRoundTrips = [];

    private static async Task PutAsync(HttpClient http, string stream, int records, bool measure = true)
    {
        for (int i = 0; i < records; i++)
        {
            long sent = Stopwatch.GetTimestamp();
            var data = Convert.ToBase64String(BitConverter.GetBytes(sent));
            await CallAsync(http, "PutRecord", new { StreamName = stream, PartitionKey = "k", Data = data });
            if (measure)
            {
                PutRoundTrips.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
            }

            await Task.Delay(2);
        }
    }

    private static HttpRequestMessage Request(string operation, object body)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(body)) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-amz-json-1.1");
        request.Headers.TryAddWithoutValidation("X-Amz-Target", "Kinesis_20131202." + operation);
        var now = DateTime.UtcNow;
        request.Headers.TryAddWithoutValidation("X-Amz-Date", now.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("Authorization",
            $"AWS4-HMAC-SHA256 Credential=AKIDBENCH/{now:yyyyMMdd}/us-east-1/kinesis/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature={new string('0', 64)}");
        return request;
    }

    private static async Task<JsonNode> CallAsync(HttpClient http, string operation, object body, CancellationToken ct = default)
    {
        using var request = Request(operation, body);
        using var response = await http.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"{operation}: {(int)response.StatusCode} {text}");
        }

        return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text)!;
    }
}
