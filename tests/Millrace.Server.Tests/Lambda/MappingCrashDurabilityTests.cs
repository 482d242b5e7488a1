using System.IO.Compression;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;
using Millrace.Server.Tests.S3;

namespace Millrace.Server.Tests.Lambda;

/// <summary>
/// Crash durability of an event-source mapping: 100,000 records on a 4-shard stream, a mapping created behind all
/// of them (TRIM_HORIZON, BatchSize 1,000) on a Python function that appends what it receives to a file, SIGKILL
/// of Millrace mid-way, restart on the same data directory. Every record is then delivered at least once, and within
/// each run of the server each partition key's records arrive in order.
/// </summary>
public sealed class MappingCrashDurabilityTests
{
    private const int Records = 100_000;
    private const int Keys = 50;

    private const string Function = """
        import base64, os, time
        def handler(event, context):
            generation = open(os.environ["GENERATION_FILE"]).read().strip()
            lines = []
            # CLOCK_MONOTONIC is one clock for every process of the machine: it orders batches handled by different environments.
            now = time.monotonic_ns()
            for i, record in enumerate(event["Records"]):
                k = record["kinesis"]
                lines.append("%s %d %06d %s %s %s\n" % (generation, now, i, k["partitionKey"], k["sequenceNumber"], base64.b64decode(k["data"]).decode()))
            with open(os.path.join(os.environ["OUT"], "%d.log" % os.getpid()), "a") as f:
                f.write("".join(lines))
            time.sleep(0.05)
            return {}
        """;

    [Fact]
    public async Task EveryRecordIsDeliveredAfterSigkillInOrderPerKey()
    {
        using var work = S3TestSupport.NewTempDir();
        var outDir = Directory.CreateDirectory(Path.Combine(work.Path, "out")).FullName;
        var generation = Path.Combine(work.Path, "generation");
        await File.WriteAllTextAsync(generation, "1");

        await using var server = await MillraceProcess.StartAsync();
        using var kinesis = new KinesisJsonClient(server.Endpoint);
        await kinesis.OkAsync("CreateStream", new { StreamName = "crash", ShardCount = 4 });
        var streamArn = (await kinesis.OkAsync("DescribeStreamSummary", new { StreamName = "crash" }))["StreamDescriptionSummary"]!["StreamARN"]!.GetValue<string>();

        var sent = new Dictionary<string, List<string>>(StringComparer.Ordinal); // partition key -> sequence numbers in put order
        for (var call = 0; call < Records / 500; call++)
        {
            var entries = Enumerable.Range(call * 500, 500)
                .Select(i => new { PartitionKey = $"key-{i % Keys}", Data = Convert.ToBase64String(Encoding.UTF8.GetBytes($"record-{i}")) })
                .ToArray();
            var result = await kinesis.OkAsync("PutRecords", new { StreamName = "crash", Records = entries });
            var results = result["Records"]!.AsArray();
            Assert.Equal(0, result["FailedRecordCount"]!.GetValue<int>());
            for (var j = 0; j < entries.Length; j++)
            {
                var key = entries[j].PartitionKey;
                if (!sent.TryGetValue(key, out var list))
                {
                    sent[key] = list = [];
                }

                list.Add(results[j]!["SequenceNumber"]!.GetValue<string>());
            }
        }

        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        await LambdaAsync(http, server.Endpoint, HttpMethod.Post, "/2015-03-31/functions", new JsonObject
        {
            ["FunctionName"] = "crash-consumer",
            ["Runtime"] = "python3.11",
            ["Role"] = "arn:aws:iam::000000000000:role/lambda-role",
            ["Handler"] = "app.handler",
            ["Timeout"] = 30,
            ["Code"] = new JsonObject { ["ZipFile"] = Convert.ToBase64String(Zip("app.py", Function)) },
            ["Environment"] = new JsonObject { ["Variables"] = new JsonObject { ["OUT"] = outDir, ["GENERATION_FILE"] = generation } },
        });
        await LambdaAsync(http, server.Endpoint, HttpMethod.Post, "/2015-03-31/event-source-mappings", new JsonObject
        {
            ["EventSourceArn"] = streamArn,
            ["FunctionName"] = "crash-consumer",
            ["StartingPosition"] = "TRIM_HORIZON",
            ["BatchSize"] = 1000,
        });

        // Kill once a fifth of the records went through (bounded wait), then restart on the same data.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (Delivered(outDir).Count < Records / 5 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        server.Kill();
        var beforeRestart = Delivered(outDir);
        Assert.True(beforeRestart.Count >= Records / 5, $"only {beforeRestart.Count} records were delivered before the kill");
        Assert.True(beforeRestart.Select(d => d.Sequence).Distinct().Count() < Records, "everything was delivered before the kill: the crash tested nothing");

        await File.WriteAllTextAsync(generation, "2");
        await server.RestartAsync();
        var all = sent.Values.SelectMany(v => v).ToHashSet(StringComparer.Ordinal);
        deadline = DateTime.UtcNow + TimeSpan.FromSeconds(180);
        List<Delivery> delivered;
        while ((delivered = Delivered(outDir)).Select(d => d.Sequence).Distinct().Count() < Records && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        var missing = all.Except(delivered.Select(d => d.Sequence)).ToList();
        Assert.True(missing.Count == 0, $"{missing.Count} records were never delivered, e.g. {string.Join(", ", missing.Take(3))}");
        Assert.Contains(delivered, d => d.Generation == "2");

        // Within each run, a key's records come in the order they were put (replays after the restart start a new run).
        foreach (var run in delivered.GroupBy(d => d.Generation))
        {
            foreach (var key in run.GroupBy(d => d.Key))
            {
                var order = sent[key.Key].Select((s, i) => (s, i)).ToDictionary(p => p.s, p => p.i, StringComparer.Ordinal);
                var positions = key.Select(d => order[d.Sequence]).ToList();
                for (var i = 1; i < positions.Count; i++)
                {
                    Assert.True(positions[i] > positions[i - 1], $"run {run.Key}, {key.Key}: record {positions[i]} came after {positions[i - 1]}");
                }
            }
        }
    }

    private sealed record Delivery(string Generation, long At, int Index, string Key, string Sequence);

    private static List<Delivery> Delivered(string directory)
    {
        var list = new List<Delivery>();
        foreach (var file in Directory.GetFiles(directory, "*.log").Order(StringComparer.Ordinal))
        {
            string[] lines;
            try
            {
                using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var reader = new StreamReader(stream);
                lines = reader.ReadToEnd().Split('\n');
            }
            catch (IOException)
            {
                continue;
            }

            // A line being written has no newline yet: skip the unterminated tail.
            foreach (var line in lines.Take(lines.Length - 1))
            {
                var parts = line.Split(' ');
                list.Add(new Delivery(parts[0], long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture),
                    int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture), parts[3], parts[4]));
            }
        }

        // Files are per process and a shard's batches may go to any warm environment: order by when each batch ran.
        return [.. list.OrderBy(d => d.Generation, StringComparer.Ordinal).ThenBy(d => d.At).ThenBy(d => d.Index)];
    }

    private static byte[] Zip(string name, string text)
    {
        using var buffer = new MemoryStream();
        using (var archive = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            using var entry = archive.CreateEntry(name).Open();
            entry.Write(Encoding.UTF8.GetBytes(text));
        }

        return buffer.ToArray();
    }

    private static async Task LambdaAsync(HttpClient http, string endpoint, HttpMethod method, string path, JsonObject body)
    {
        using var request = new HttpRequestMessage(method, endpoint + path);
        request.Headers.TryAddWithoutValidation("Authorization",
            "AWS4-HMAC-SHA256 Credential=AKIDMILLRACETEST/20261206/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0");
        request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{method} {path}: {(int)response.StatusCode} {text}");
    }
}
