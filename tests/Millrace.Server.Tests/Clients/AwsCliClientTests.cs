using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Clients;

/// <summary>
/// AWS CLI v2 (Debian's <c>awscli</c> package at <c>/usr/bin/aws</c>; a v1 <c>aws</c> may be first on PATH), driven
/// step by step with its JSON output parsed here.
/// </summary>
public sealed class AwsCliClientTests : ClientTestBase
{
    private const string ShardZero = "shardId-000000000000";
    private const string ShardOne = "shardId-000000000001";
    private const string MaxHashKey = "340282366920938463463374607431768211455";

    [Fact]
    public async Task ProvisionedStreamLifecycle()
    {
        var name = UniqueStreamName("cli");

        // create + wait
        await Aws("create-stream", "--stream-name", name, "--shard-count", "2");
        await Aws("wait", "stream-exists", "--stream-name", name);

        var summary = (await Aws("describe-stream-summary", "--stream-name", name)).GetProperty("StreamDescriptionSummary");
        Assert.Equal("ACTIVE", summary.GetProperty("StreamStatus").GetString());
        Assert.Equal(2, summary.GetProperty("OpenShardCount").GetInt32());
        Assert.Equal(name, summary.GetProperty("StreamName").GetString());
        Assert.Equal($"arn:aws:kinesis:us-east-1:000000000000:stream/{name}", summary.GetProperty("StreamARN").GetString());

        // writes; expected records in send order
        var written = new List<(string ShardId, string Sequence, string PartitionKey, byte[] Data)>();

        const string text = "hello from aws cli v2 — ünïcödé ✓";
        var put = await Aws("put-record", "--stream-name", name, "--partition-key", "cli-text", "--data", text, "--cli-binary-format", "raw-in-base64-out");
        written.Add((ShardIdOf(put), SequenceOf(put), "cli-text", Encoding.UTF8.GetBytes(text)));

        // default CLI v2 binary format: --data is base64
        byte[] binary = [0, 1, 2, 127, 128, 254, 255];
        put = await Aws("put-record", "--stream-name", name, "--partition-key", "cli-binary", "--data", Convert.ToBase64String(binary));
        written.Add((ShardIdOf(put), SequenceOf(put), "cli-binary", binary));

        put = await Aws("put-record", "--stream-name", name, "--partition-key", "cli-ehk-zero", "--explicit-hash-key", "0", "--data", "ehk-zero", "--cli-binary-format", "raw-in-base64-out");
        Assert.Equal(ShardZero, ShardIdOf(put));
        written.Add((ShardIdOf(put), SequenceOf(put), "cli-ehk-zero", "ehk-zero"u8.ToArray()));

        var entries = new List<(string PartitionKey, string Data, string? ExplicitHashKey)>
        {
            ("batch-a", "first batch entry", null),
            ("batch-b", "second — with ünïcode", null),
            ("batch-max", "explicit hash key at 2^128-1", MaxHashKey),
            ("batch-c", "{\"json\": true, \"n\": 3}", null),
            ("batch-d", "fourth", null),
            ("batch-e", "fifth and last", null),
        };
        var recordsJson = JsonSerializer.Serialize(entries.Select(e => e.ExplicitHashKey is null
            ? new Dictionary<string, string> { ["Data"] = e.Data, ["PartitionKey"] = e.PartitionKey }
            : new Dictionary<string, string> { ["Data"] = e.Data, ["PartitionKey"] = e.PartitionKey, ["ExplicitHashKey"] = e.ExplicitHashKey }));
        var batch = await Aws("put-records", "--stream-name", name, "--records", recordsJson, "--cli-binary-format", "raw-in-base64-out");
        Assert.Equal(0, batch.GetProperty("FailedRecordCount").GetInt32());
        var results = batch.GetProperty("Records").EnumerateArray().ToList();
        Assert.Equal(entries.Count, results.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            Assert.False(results[i].TryGetProperty("ErrorCode", out _), results[i].ToString());
            written.Add((ShardIdOf(results[i]), SequenceOf(results[i]), entries[i].PartitionKey, Encoding.UTF8.GetBytes(entries[i].Data)));
        }

        Assert.Equal(ShardOne, written.Single(w => w.PartitionKey == "batch-max").ShardId);

        // shards and hash ranges
        var shards = (await Aws("list-shards", "--stream-name", name)).GetProperty("Shards").EnumerateArray().ToList();
        Assert.Equal([ShardZero, ShardOne], shards.Select(s => s.GetProperty("ShardId").GetString()));
        Assert.Equal(["0", "170141183460469231731687303715884105727"], HashRange(shards[0]));
        Assert.Equal(["170141183460469231731687303715884105728", MaxHashKey], HashRange(shards[1]));

        // read everything back, per shard, in order
        foreach (var shardId in new[] { ShardZero, ShardOne })
        {
            var expected = written.Where(w => w.ShardId == shardId).ToList();
            var iterator = (await Aws("get-shard-iterator", "--stream-name", name, "--shard-id", shardId, "--shard-iterator-type", "TRIM_HORIZON"))
                .GetProperty("ShardIterator").GetString()!;
            var got = new List<JsonElement>();
            var clock = Stopwatch.StartNew();
            for (var call = 0; call < 15 && got.Count < expected.Count && clock.Elapsed < TimeSpan.FromSeconds(20); call++)
            {
                var page = await Aws("get-records", "--shard-iterator", iterator);
                var records = page.GetProperty("Records").EnumerateArray().ToList();
                got.AddRange(records);
                iterator = page.GetProperty("NextShardIterator").GetString()!;
                if (records.Count == 0 && page.GetProperty("MillisBehindLatest").GetInt64() == 0)
                {
                    break; // caught up; the count check below decides
                }
            }

            Assert.True(got.Count == expected.Count, $"{shardId}: read {got.Count} records, wrote {expected.Count}");
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i].Sequence, got[i].GetProperty("SequenceNumber").GetString());
                Assert.Equal(expected[i].PartitionKey, got[i].GetProperty("PartitionKey").GetString());
                Assert.Equal(expected[i].Data, Convert.FromBase64String(got[i].GetProperty("Data").GetString()!));
                Assert.True(got[i].TryGetProperty("ApproximateArrivalTimestamp", out _), got[i].ToString());
            }

            var sequences = expected.Select(e => BigInteger.Parse(e.Sequence, CultureInfo.InvariantCulture)).ToList();
            Assert.Equal(sequences.Order(), sequences);
        }

        // describe-stream (legacy; --no-paginate keeps HasMoreShards, which the CLI paginator strips) and list-streams
        var description = (await Aws("describe-stream", "--stream-name", name, "--no-paginate")).GetProperty("StreamDescription");
        Assert.Equal("ACTIVE", description.GetProperty("StreamStatus").GetString());
        Assert.Equal(summary.GetProperty("StreamARN").GetString(), description.GetProperty("StreamARN").GetString());
        Assert.Equal(2, description.GetProperty("Shards").GetArrayLength());
        Assert.False(description.GetProperty("HasMoreShards").GetBoolean());

        var names = (await Aws("list-streams")).GetProperty("StreamNames").EnumerateArray().Select(n => n.GetString()).ToList();
        Assert.Contains(name, names);

        // delete, then the stream is gone (deletion may pass through DELETING first)
        await Aws("delete-stream", "--stream-name", name);
        ExternalTool.Result last;
        var deleteClock = Stopwatch.StartNew();
        do
        {
            last = await AwsRaw("describe-stream-summary", "--stream-name", name);
            if (last.ExitCode != 0)
            {
                break;
            }

            await Task.Delay(250);
        }
        while (deleteClock.Elapsed < TimeSpan.FromSeconds(30));

        Assert.True(last.ExitCode != 0, Describe(last, "describe-stream-summary still succeeds 30 s after delete-stream"));
        Assert.True(last.StdErr.Contains("ResourceNotFoundException", StringComparison.Ordinal), Describe(last, "expected ResourceNotFoundException"));
        Assert.DoesNotContain(name, (await Aws("list-streams")).GetProperty("StreamNames").EnumerateArray().Select(n => n.GetString()));
    }

    [Fact]
    public async Task OnDemandStreamHasFourShards()
    {
        var name = UniqueStreamName("cli-od");
        await Aws("create-stream", "--stream-name", name, "--stream-mode-details", "StreamMode=ON_DEMAND");
        await Aws("wait", "stream-exists", "--stream-name", name);

        var summary = (await Aws("describe-stream-summary", "--stream-name", name)).GetProperty("StreamDescriptionSummary");
        Assert.Equal("ACTIVE", summary.GetProperty("StreamStatus").GetString());
        Assert.Equal("ON_DEMAND", summary.GetProperty("StreamModeDetails").GetProperty("StreamMode").GetString());
        Assert.Equal(4, summary.GetProperty("OpenShardCount").GetInt32());

        var shards = (await Aws("list-shards", "--stream-name", name)).GetProperty("Shards").EnumerateArray().ToList();
        Assert.Equal(4, shards.Count);
        var next = BigInteger.Zero;
        foreach (var shard in shards)
        {
            var range = HashRange(shard);
            Assert.Equal(next, BigInteger.Parse(range[0], CultureInfo.InvariantCulture));
            var end = BigInteger.Parse(range[1], CultureInfo.InvariantCulture);
            Assert.True(end >= next, shard.ToString());
            next = end + 1;
        }

        Assert.Equal(BigInteger.One << 128, next);

        var put = await Aws("put-record", "--stream-name", name, "--partition-key", "od", "--data", "on-demand", "--cli-binary-format", "raw-in-base64-out");
        Assert.StartsWith("shardId-", ShardIdOf(put), StringComparison.Ordinal);

        await Aws("delete-stream", "--stream-name", name);
    }

    /// <summary>Runs the CLI and returns its parsed JSON output (an empty object when it printed nothing); fails unless it exited 0.</summary>


    private static string ShardIdOf(JsonElement e) => e.GetProperty("ShardId").GetString()!;

    private static string SequenceOf(JsonElement e)
    {
        var s = e.GetProperty("SequenceNumber").GetString()!;
        Assert.Matches("^[0-9]+$", s);
        return s;
    }

    private static string[] HashRange(JsonElement shard)
    {
        var r = shard.GetProperty("HashKeyRange");
        return [r.GetProperty("StartingHashKey").GetString()!, r.GetProperty("EndingHashKey").GetString()!];
    }
}
