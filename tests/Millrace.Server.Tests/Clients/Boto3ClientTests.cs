using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Clients;

/// <summary>
/// boto3: gzip JSON producer (put_record + put_records) and a TRIM_HORIZON consumer over every shard, then iterator
/// types, paging (list_shards, list_streams, describe_stream), error codes and GetRecords Limit.
/// </summary>
public sealed class Boto3ClientTests : ClientTestBase
{
    [Fact]
    public async Task ProducerConsumerAndApiSemantics()
    {
        var script = ClientPath("python", "kinesis_boto3.py");
        var stream = UniqueStreamName("py");

        var result = await ExternalTool.RunAsync(
            "python3",
            [script, Server.Endpoint, stream],
            env: new Dictionary<string, string> { ["PYTHONUNBUFFERED"] = "1", ["PYTHONDONTWRITEBYTECODE"] = "1" },
            timeout: TimeSpan.FromSeconds(90));

        RequireSuccess(result, "python3 kinesis_boto3.py");
        var summary = Summary(result, "kinesis_boto3.py");
        var context = Describe(result, "summary check");
        Assert.True(summary.GetProperty("ok").GetBoolean(), context);
        Assert.True(summary.GetProperty("sent").GetInt32() == 800, context);
        Assert.True(summary.GetProperty("received").GetInt32() == 800, context);
        Assert.True(summary.GetProperty("unicode_docs").GetInt32() > 0, context);

        var perShard = summary.GetProperty("shards").EnumerateObject().ToList();
        Assert.True(perShard.Count == 2, context);
        Assert.True(perShard.Sum(p => p.Value.GetInt32()) == 800 && perShard.All(p => p.Value.GetInt32() > 0), context);

        Assert.True(summary.GetProperty("iterator_checks").GetInt32() == 9, context);
        Assert.True(summary.GetProperty("list_shards_pages").GetInt32() >= 2, context);
        Assert.True(summary.GetProperty("list_streams_pages").GetInt32() >= 4, context);
        Assert.True(summary.GetProperty("checks").GetInt32() >= 5000, context);

        var errors = summary.GetProperty("errors");
        Assert.True(errors.GetProperty("missing").GetString() == "ResourceNotFoundException", context);
        Assert.True(errors.GetProperty("duplicate").GetString() == "ResourceInUseException", context);
        Assert.True(errors.GetProperty("garbage_iterator").GetString() == "InvalidArgumentException", context);
        Assert.True(errors.GetProperty("missing_shard").GetString() == "ResourceNotFoundException", context);
    }
}
