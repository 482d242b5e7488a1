using System.Globalization;
using System.Numerics;
using System.Text.Json;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Clients;

/// <summary>
/// Resharding through the AWS CLI v2, step by step: split-shard, merge-shards, update-shard-count, list-shards with a
/// filter, describe-stream, and get-records on a drained parent.
/// </summary>
public sealed class AwsCliReshardingTests : ClientTestBase
{
    private static readonly BigInteger Half = BigInteger.One << 127;

    private static string ShardId(int index) => $"shardId-{index:D12}";

    [Fact]
    public async Task AwsCliSplitsMergesAndRescales()
    {
        var name = UniqueStreamName("cli-reshard");
        await Aws("create-stream", "--stream-name", name, "--shard-count", "1"); // ACTIVE at once with the default delays
        var records = JsonSerializer.Serialize(new[] { "0", Half.ToString(CultureInfo.InvariantCulture), ((BigInteger.One << 128) - 1).ToString(CultureInfo.InvariantCulture) }
            .Select((key, i) => new { Data = $"record-{i}", PartitionKey = "p", ExplicitHashKey = key }));
        var put = await Aws("put-records", "--stream-name", name, "--records", records, "--cli-binary-format", "raw-in-base64-out");
        var sequences = put.GetProperty("Records").EnumerateArray().Select(r => r.GetProperty("SequenceNumber").GetString()!).ToList();

        await Aws("split-shard", "--stream-name", name, "--shard-to-split", ShardId(0), "--new-starting-hash-key", Half.ToString(CultureInfo.InvariantCulture));
        await Aws("wait", "stream-exists", "--stream-name", name);

        // Independent reads run side by side (each CLI start costs seconds here).
        var listing = Aws("list-shards", "--stream-name", name);
        var iterator = Aws("get-shard-iterator", "--stream-name", name, "--shard-id", ShardId(0), "--shard-iterator-type", "TRIM_HORIZON");
        var shards = (await listing).GetProperty("Shards").EnumerateArray().ToList();
        Assert.Equal([ShardId(0), ShardId(1), ShardId(2)], shards.Select(s => s.GetProperty("ShardId").GetString()));
        Assert.Equal(sequences[^1], shards[0].GetProperty("SequenceNumberRange").GetProperty("EndingSequenceNumber").GetString());
        Assert.All(shards.Skip(1), s => Assert.Equal(ShardId(0), s.GetProperty("ParentShardId").GetString()));

        var it = (await iterator).GetProperty("ShardIterator").GetString()!;
        var page = await Aws("get-records", "--shard-iterator", it);
        Assert.Equal(sequences, page.GetProperty("Records").EnumerateArray().Select(r => r.GetProperty("SequenceNumber").GetString()));
        Assert.False(page.TryGetProperty("ChildShards", out _), page.ToString());

        // The call after the last records ends the shard: no NextShardIterator, and the children.
        page = await Aws("get-records", "--shard-iterator", page.GetProperty("NextShardIterator").GetString()!);
        Assert.Empty(page.GetProperty("Records").EnumerateArray());
        Assert.False(page.TryGetProperty("NextShardIterator", out var next) && next.ValueKind != JsonValueKind.Null, page.ToString());
        var children = page.GetProperty("ChildShards").EnumerateArray().ToList();
        Assert.Equal([ShardId(1), ShardId(2)], children.Select(c => c.GetProperty("ShardId").GetString()));
        Assert.All(children, c => Assert.Equal([ShardId(0)], c.GetProperty("ParentShards").EnumerateArray().Select(p => p.GetString())));

        await Aws("merge-shards", "--stream-name", name, "--shard-to-merge", ShardId(1), "--adjacent-shard-to-merge", ShardId(2));
        var scaled = await Aws("update-shard-count", "--stream-name", name, "--target-shard-count", "2", "--scaling-type", "UNIFORM_SCALING");
        Assert.Equal(1, scaled.GetProperty("CurrentShardCount").GetInt32());
        Assert.Equal(2, scaled.GetProperty("TargetShardCount").GetInt32());
        Assert.Equal(name, scaled.GetProperty("StreamName").GetString());
        var refusal = AwsRaw("split-shard", "--stream-name", name, "--shard-to-split", ShardId(0), "--new-starting-hash-key", "12345");
        var latestListing = Aws("list-shards", "--stream-name", name, "--shard-filter", "Type=AT_LATEST");
        var description = (await Aws("describe-stream", "--stream-name", name)).GetProperty("StreamDescription");
        Assert.Equal("ACTIVE", description.GetProperty("StreamStatus").GetString());
        var merged = description.GetProperty("Shards").EnumerateArray().Single(s => s.GetProperty("ShardId").GetString() == ShardId(3));
        Assert.Equal(ShardId(1), merged.GetProperty("ParentShardId").GetString());
        Assert.Equal(ShardId(2), merged.GetProperty("AdjacentParentShardId").GetString());
        var open = description.GetProperty("Shards").EnumerateArray().Where(s => !s.GetProperty("SequenceNumberRange").TryGetProperty("EndingSequenceNumber", out _)).ToList();
        Assert.Equal(["0", (Half - 1).ToString(CultureInfo.InvariantCulture)], Range(open[0]));
        Assert.Equal([Half.ToString(CultureInfo.InvariantCulture), ((BigInteger.One << 128) - 1).ToString(CultureInfo.InvariantCulture)], Range(open[1]));

        var refused = await refusal;
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("InvalidArgumentException", refused.StdErr, StringComparison.Ordinal);
        Assert.Contains("has already been merged or split", refused.StdErr, StringComparison.Ordinal);
        var latest = (await latestListing).GetProperty("Shards").EnumerateArray().Select(s => s.GetProperty("ShardId").GetString()).ToList();
        Assert.Equal(open.Select(s => s.GetProperty("ShardId").GetString()), latest);
    }

    private static string[] Range(JsonElement shard)
    {
        var r = shard.GetProperty("HashKeyRange");
        return [r.GetProperty("StartingHashKey").GetString()!, r.GetProperty("EndingHashKey").GetString()!];
    }


}

/// <summary>boto3 reshards under a live producer and consumes by lineage like the KCL
/// (<c>tests/clients/python/kinesis_boto3_resharding.py</c>).</summary>
public sealed class Boto3ReshardingTests : ClientTestBase
{
    [Fact]
    public async Task Boto3ReshardsUnderALiveProducerAndConsumesByLineage()
    {
        var script = ClientPath("python", "kinesis_boto3_resharding.py");
        var result = await ExternalTool.RunAsync(
            "python3",
            [script, Server.Endpoint, UniqueStreamName("py-reshard")],
            env: new Dictionary<string, string> { ["PYTHONUNBUFFERED"] = "1", ["PYTHONDONTWRITEBYTECODE"] = "1" },
            timeout: TimeSpan.FromSeconds(90));
        RequireSuccess(result, "python3 kinesis_boto3_resharding.py");
        var summary = Summary(result, "kinesis_boto3_resharding.py");
        var context = Describe(result, "summary check");
        Assert.True(summary.GetProperty("ok").GetBoolean(), context);
        Assert.True(summary.GetProperty("acked").GetInt32() > 0, context);
        Assert.True(summary.GetProperty("read").GetInt32() == summary.GetProperty("acked").GetInt32(), context);
        Assert.True(summary.GetProperty("closed").GetInt32() >= 5, context);
        Assert.True(summary.GetProperty("child_answers").GetInt32() == summary.GetProperty("closed").GetInt32(), context);
        Assert.True(summary.GetProperty("keys_in_order").GetInt32() == 40, context);
    }
}
