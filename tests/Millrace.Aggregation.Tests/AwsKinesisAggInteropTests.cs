using System.Text.Json;
using System.Text.Json.Nodes;
using Record = Millrace.Client.Record;

namespace Millrace.Aggregation.Tests;

/// <summary>Both directions against npm aws-kinesis-agg (tests/clients/js/kpl-agg-interop.mjs): what one side
/// aggregates, the other deaggregates to the same user records, keys and data byte for byte.</summary>
public class AwsKinesisAggInteropTests
{
    private sealed record UserRecord(string PartitionKey, string? ExplicitHashKey, byte[] Data);

    private static readonly string Script = Path.Combine(ExternalTool.RepositoryRoot, "tests", "clients", "js", "kpl-agg-interop.mjs");

    /// <summary>Groups of user records with ASCII, multi-byte and repeated partition keys, some explicit hash keys
    /// (including both ends of the key space) and data from 1 byte to a few KiB.</summary>
    /// <remarks>aws-kinesis-agg builds its key tables with Object.keys, which puts array-index-like keys ("0",
    /// "42") first while the records keep insertion-order indices, so its aggregates of such keys point at the wrong
    /// table entries. Groups that node aggregates therefore use no explicit hash key below 2^64
    /// (<paramref name="forNodeAggregation"/>); partition keys here are never plain numbers.</remarks>
    private static List<List<UserRecord>> Groups(int seed, bool forNodeAggregation)
    {
        string lowEdge = forNodeAggregation ? "18446744073709551616" : "0";
        var random = new Random(seed);
        string[] keyParts = ["pk", "ключ", "键", "🔑", "a", "key with spaces", new string('k', 256)];
        var groups = new List<List<UserRecord>>();
        foreach (int size in new[] { 1, 2, 3, 17, 120, 500 })
        {
            var group = new List<UserRecord>();
            for (int i = 0; i < size; i++)
            {
                var pk = keyParts[random.Next(keyParts.Length)];
                if (pk.Length < 256 && random.Next(3) > 0)
                {
                    pk += random.Next(20);
                }

                string? ehk = random.Next(4) switch
                {
                    0 => KplHashKey.ToDecimal(new UInt128((ulong)random.NextInt64(), (ulong)random.NextInt64())),
                    1 when i % 2 == 0 => lowEdge,
                    1 => "340282366920938463463374607431768211455",
                    _ => null,
                };
                var data = new byte[random.Next(4) == 0 ? random.Next(1, 4096) : random.Next(1, 100)];
                random.NextBytes(data);
                group.Add(new UserRecord(pk, ehk, data));
            }

            groups.Add(group);
        }

        return groups;
    }

    private static async Task<JsonArray> RunNode(string mode, JsonNode input)
    {
        var result = await ExternalTool.RunAsync("node", [Script, mode], stdin: input.ToJsonString(), timeout: TimeSpan.FromMinutes(1));
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonNode.Parse(result.StdOut)!.AsArray();
    }

    [Fact]
    public async Task MillraceAggregatesAwsKinesisAggDeaggregates()
    {
        var groups = Groups(1, forNodeAggregation: false);
        var input = new JsonArray();
        for (int g = 0; g < groups.Count; g++)
        {
            var builder = new AggregatedRecordBuilder();
            foreach (var u in groups[g])
            {
                builder.Add(u.PartitionKey, u.ExplicitHashKey, u.Data);
            }

            var env = builder.Build();
            Assert.Equal(groups[g].Count > 1, Deaggregator.IsAggregated(env.Data));
            input.Add(new JsonObject
            {
                ["sequenceNumber"] = $"4960000000000000000000000000000000000000000000000{g}",
                ["partitionKey"] = env.PartitionKey,
                ["explicitPartitionKey"] = env.ExplicitHashKey,
                ["data"] = Convert.ToBase64String(env.Data),
            });
        }

        var output = await RunNode("deaggregate", input);
        var expected = groups.SelectMany((group, g) => group.Select((u, i) => (g, i, u))).ToList();
        Assert.Equal(expected.Count, output.Count);
        for (int k = 0; k < expected.Count; k++)
        {
            var (g, i, u) = expected[k];
            var o = output[k]!;
            Assert.Equal($"4960000000000000000000000000000000000000000000000{g}", (string?)o["sequenceNumber"]);
            Assert.Equal(i, (int)o["subSequenceNumber"]!);
            Assert.Equal(u.PartitionKey, (string?)o["partitionKey"]);
            Assert.Equal(u.Data, Convert.FromBase64String((string)o["data"]!));
            if (groups[g].Count > 1 && u.ExplicitHashKey is not null)
            {
                // (Without an EHK, aws-kinesis-agg reports the table's first entry: protobufjs reads the absent
                // optional index as 0.)
                Assert.Equal(u.ExplicitHashKey, (string?)o["explicitHashKey"]);
            }
        }
    }

    [Fact]
    public async Task AwsKinesisAggAggregatesMillraceDeaggregates()
    {
        var groups = Groups(2, forNodeAggregation: true);
        var input = new JsonArray(groups.Select(group => (JsonNode)new JsonArray(group.Select(u => (JsonNode)new JsonObject
        {
            ["partitionKey"] = u.PartitionKey,
            ["explicitHashKey"] = u.ExplicitHashKey,
            ["data"] = Convert.ToBase64String(u.Data),
        }).ToArray())).ToArray());
        var output = await RunNode("aggregate", input);
        Assert.Equal(groups.Count, output.Count);
        for (int g = 0; g < groups.Count; g++)
        {
            var data = Convert.FromBase64String((string)output[g]!["data"]!);
            // aws-kinesis-agg aggregates even a single record; every one must pass the KCL's checks.
            Assert.True(Deaggregator.IsAggregated(data));
            var records = Deaggregator.Deaggregate(new Record
            {
                SequenceNumber = "49" + g,
                PartitionKey = (string?)output[g]!["partitionKey"],
                Data = data,
            }).ToList();
            Assert.Equal(groups[g].Count, records.Count);
            for (int i = 0; i < records.Count; i++)
            {
                Assert.True(records[i].Aggregated);
                Assert.Equal("49" + g, records[i].SequenceNumber);
                Assert.Equal(i, records[i].SubSequenceNumber);
                Assert.Equal(groups[g][i].PartitionKey, records[i].PartitionKey);
                Assert.Equal(groups[g][i].ExplicitHashKey, records[i].ExplicitHashKey);
                Assert.Equal(groups[g][i].Data, records[i].Data.ToArray());
            }
        }
    }

    [Fact]
    public async Task BothSidesWriteTheSameBytesForTheSameRecords()
    {
        // Same records, same order: both write key tables in first-seen order, then the records, so the protobuf
        // (and with it the MD5) is identical. Envelope keys differ by design (KPL: "a" + first hash key).
        var groups = Groups(3, forNodeAggregation: true).Where(g => g.Count > 1).ToList();
        var input = new JsonArray(groups.Select(group => (JsonNode)new JsonArray(group.Select(u => (JsonNode)new JsonObject
        {
            ["partitionKey"] = u.PartitionKey,
            ["explicitHashKey"] = u.ExplicitHashKey,
            ["data"] = Convert.ToBase64String(u.Data),
        }).ToArray())).ToArray());
        var output = await RunNode("aggregate", input);
        for (int g = 0; g < groups.Count; g++)
        {
            var builder = new AggregatedRecordBuilder();
            foreach (var u in groups[g])
            {
                builder.Add(u.PartitionKey, u.ExplicitHashKey, u.Data);
            }

            Assert.Equal(Convert.FromBase64String((string)output[g]!["data"]!), builder.Build().Data);
        }
    }
}
