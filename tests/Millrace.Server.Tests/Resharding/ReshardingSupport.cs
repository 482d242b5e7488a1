using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Resharding;

/// <summary>Raw-JSON helpers shared by the resharding tests: writing with explicit hash keys, draining shards,
/// checking that the open shards tile the key space.</summary>
internal static class ReshardingSupport
{
    public static readonly BigInteger TwoTo128 = BigInteger.One << 128;

    public sealed record Acked(string ShardId, string SequenceNumber, string Data, BigInteger HashKey);

    public sealed record Drained(List<(string SequenceNumber, string Data)> Records, JsonArray? ChildShards, bool Ended);

    /// <summary>PutRecords with explicit hash keys; every entry must succeed.</summary>
    public static async Task<List<Acked>> PutAsync(KinesisJsonClient client, string stream, IReadOnlyList<(BigInteger HashKey, string Data)> records)
    {
        var body = new
        {
            StreamName = stream,
            Records = records.Select(r => new
            {
                PartitionKey = "k",
                ExplicitHashKey = r.HashKey.ToString(CultureInfo.InvariantCulture),
                Data = Convert.ToBase64String(Encoding.UTF8.GetBytes(r.Data)),
            }).ToArray(),
        };
        var response = await client.OkAsync("PutRecords", body);
        Assert.Equal(0, response["FailedRecordCount"]!.GetValue<int>());
        var results = response["Records"]!.AsArray();
        return records.Select((r, i) => new Acked(
            results[i]!["ShardId"]!.GetValue<string>(), results[i]!["SequenceNumber"]!.GetValue<string>(), r.Data, r.HashKey)).ToList();
    }

    /// <summary>Reads a shard from TRIM_HORIZON until it ends (closed) or is caught up (open), at most 200 calls.</summary>
    public static async Task<Drained> DrainAsync(KinesisJsonClient client, string stream, string shardId, string iteratorType = "TRIM_HORIZON")
    {
        var it = (await client.OkAsync("GetShardIterator", new { StreamName = stream, ShardId = shardId, ShardIteratorType = iteratorType }))["ShardIterator"]!.GetValue<string>();
        var records = new List<(string, string)>();
        for (int call = 0; call < 200; call++)
        {
            var page = await client.OkAsync("GetRecords", new { ShardIterator = it });
            foreach (var r in page["Records"]!.AsArray())
            {
                records.Add((r!["SequenceNumber"]!.GetValue<string>(), Encoding.UTF8.GetString(Convert.FromBase64String(r["Data"]!.GetValue<string>()))));
            }

            var next = page["NextShardIterator"]?.GetValue<string>();
            if (next is null)
            {
                Assert.False(page.AsObject().ContainsKey("NextShardIterator"), "a drained closed shard omits NextShardIterator");
                Assert.Empty(page["Records"]!.AsArray()); // as AWS: the last records come with an iterator, the end after them
                return new Drained(records, page["ChildShards"]?.AsArray(), true);
            }

            Assert.Null(page["ChildShards"]);
            if (page["Records"]!.AsArray().Count == 0 && page["MillisBehindLatest"]!.GetValue<long>() == 0)
            {
                return new Drained(records, null, false);
            }

            it = next;
        }

        throw new Xunit.Sdk.XunitException($"{shardId} did not end or catch up within 200 GetRecords calls");
    }

    public static async Task<JsonArray> ListShardsAsync(KinesisJsonClient client, string stream, object? filter = null)
    {
        var body = filter is null ? (object)new { StreamName = stream } : new { StreamName = stream, ShardFilter = filter };
        return (await client.OkAsync("ListShards", body))["Shards"]!.AsArray();
    }

    public static string[] Ids(JsonArray shards) => shards.Select(s => s!["ShardId"]!.GetValue<string>()).ToArray();

    public static (BigInteger Start, BigInteger End) Range(JsonNode shard) => (
        BigInteger.Parse(shard["HashKeyRange"]!["StartingHashKey"]!.GetValue<string>(), CultureInfo.InvariantCulture),
        BigInteger.Parse(shard["HashKeyRange"]!["EndingHashKey"]!.GetValue<string>(), CultureInfo.InvariantCulture));

    public static bool IsOpen(JsonNode shard) => shard["SequenceNumberRange"]!["EndingSequenceNumber"] is null;

    /// <summary>The given shards, sorted by starting key, cover 0..2^128-1 with no gap and no overlap.</summary>
    public static void AssertTiles(IEnumerable<JsonNode> shards)
    {
        var next = BigInteger.Zero;
        foreach (var (start, end) in shards.Select(Range).OrderBy(r => r.Start))
        {
            Assert.Equal(next, start);
            Assert.True(end >= start);
            next = end + 1;
        }

        Assert.Equal(TwoTo128, next);
    }

    /// <summary>The even layout CreateStream draws for n shards: step floor(2^128/n), the last shard ends at 2^128-1.</summary>
    public static (BigInteger Start, BigInteger End) EvenRange(int i, int n)
    {
        var step = TwoTo128 / n;
        return (step * i, i == n - 1 ? TwoTo128 - 1 : (step * (i + 1)) - 1);
    }

    public static string ShardId(int index) => $"shardId-{index:D12}";

    /// <summary>Hash keys spread over the whole key space (both ends included).</summary>
    public static BigInteger SpreadKey(int i, int count) => i == count - 1 ? TwoTo128 - 1 : TwoTo128 / count * i;
}
