using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Durability;

/// <summary>
/// Kills the server with SIGKILL in the middle of concurrent PutRecords load, again and again, and checks that
/// every record it acknowledged is still there afterwards, in order, with no sequence number twice.
/// </summary>
public sealed class CrashTests
{
    private const int Rounds = 20;
    private const int Writers = 8;
    private const string Stream = "crash-test";

    private sealed record Acked(string ShardId, string SequenceNumber, string Payload, int Writer, int Counter);

    [Fact]
    public async Task AcknowledgedRecordsSurviveRepeatedSigkill()
    {
        await using var server = await MillraceProcess.StartAsync();
        using (var setup = new KinesisJsonClient(server.Endpoint))
        {
            await setup.OkAsync("CreateStream", new { StreamName = Stream, ShardCount = 4 });
        }

        var acked = new List<Acked>();
        var random = new Random(20261123);
        int[] counters = new int[Writers];
        for (int round = 0; round < Rounds; round++)
        {
            using var client = new KinesisJsonClient(server.Endpoint);
            using var stopWriters = new CancellationTokenSource();
            var writers = Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
            {
                var mine = new List<Acked>();
                int batches = 0;
                while (!stopWriters.IsCancellationRequested && batches++ < 10_000)
                {
                    int size = 1 + random.Next(0, 40);
                    var payloads = new List<(string Payload, int Counter)>(size);
                    var records = new JsonArray();
                    for (int i = 0; i < size; i++)
                    {
                        int counter = Interlocked.Increment(ref counters[w]);
                        var payload = $"w{w}-c{counter}-r{round}";
                        payloads.Add((payload, counter));
                        records.Add(new JsonObject
                        {
                            ["Data"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(payload)),
                            ["PartitionKey"] = $"writer-{w}",
                        });
                    }

                    KinesisJsonClient.Response response;
                    try
                    {
                        response = await client.CallAsync("PutRecords", new JsonObject { ["StreamName"] = Stream, ["Records"] = records });
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                    {
                        break; // the server died under us: nothing of this call counts as acknowledged
                    }

                    if (response.Status != HttpStatusCode.OK)
                    {
                        break;
                    }

                    var results = response.Json!["Records"]!.AsArray();
                    for (int i = 0; i < results.Count; i++)
                    {
                        if (results[i]!["SequenceNumber"] is { } seq)
                        {
                            mine.Add(new Acked(results[i]!["ShardId"]!.GetValue<string>(), seq.GetValue<string>(), payloads[i].Payload, w, payloads[i].Counter));
                        }
                    }
                }

                return mine;
            })).ToArray();

            await Task.Delay(random.Next(150, 700));
            server.Kill();
            stopWriters.Cancel();
            foreach (var list in await Task.WhenAll(writers))
            {
                acked.AddRange(list);
            }

            await server.RestartAsync();
        }

        Assert.True(acked.Count > Rounds * 10, $"the load generated too few acknowledged records ({acked.Count})");

        using var reader = new KinesisJsonClient(server.Endpoint);
        var stored = new Dictionary<string, List<(string Seq, string Payload)>>();
        var shards = (await reader.OkAsync("ListShards", new { StreamName = Stream }))["Shards"]!.AsArray();
        foreach (var shard in shards)
        {
            var shardId = shard!["ShardId"]!.GetValue<string>();
            var list = stored[shardId] = [];
            var iterator = (await reader.OkAsync("GetShardIterator", new { StreamName = Stream, ShardId = shardId, ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();
            for (int calls = 0; calls < 10_000 && iterator is not null; calls++)
            {
                var page = await reader.OkAsync("GetRecords", new { ShardIterator = iterator, Limit = 10_000 });
                var records = page["Records"]!.AsArray();
                foreach (var r in records)
                {
                    list.Add((r!["SequenceNumber"]!.GetValue<string>(), Encoding.UTF8.GetString(Convert.FromBase64String(r["Data"]!.GetValue<string>()))));
                }

                iterator = page["NextShardIterator"]?.GetValue<string>();
                if (records.Count == 0 && page["MillisBehindLatest"]!.GetValue<long>() == 0)
                {
                    break;
                }
            }
        }

        foreach (var (shardId, list) in stored)
        {
            for (int i = 1; i < list.Count; i++)
            {
                Assert.True(string.CompareOrdinal(list[i - 1].Seq, list[i].Seq) < 0,
                    $"{shardId}: sequence numbers not strictly increasing at {i}: {list[i - 1].Seq} then {list[i].Seq}");
            }
        }

        var bySeq = stored.SelectMany(kv => kv.Value.Select(r => (Key: kv.Key + "/" + r.Seq, r.Payload))).ToDictionary(x => x.Key, x => x.Payload);
        foreach (var a in acked)
        {
            Assert.True(bySeq.TryGetValue(a.ShardId + "/" + a.SequenceNumber, out var payload), $"acknowledged record {a} is missing after crashes");
            Assert.Equal(a.Payload, payload);
        }

        // Each writer sends one request at a time, so its acknowledged records are in send order on the shard.
        foreach (var group in acked.GroupBy(a => a.Writer))
        {
            var ordered = group.OrderBy(a => a.Counter).ToList();
            for (int i = 1; i < ordered.Count; i++)
            {
                Assert.Equal(ordered[i - 1].ShardId, ordered[i].ShardId);
                Assert.True(string.CompareOrdinal(ordered[i - 1].SequenceNumber, ordered[i].SequenceNumber) < 0,
                    $"writer {group.Key}: record {ordered[i]} is stored before {ordered[i - 1]}");
            }
        }
    }
}
