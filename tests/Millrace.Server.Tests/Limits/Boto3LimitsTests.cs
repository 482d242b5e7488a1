using Millrace.Server.Tests.Clients;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Limits;

/// <summary>boto3 (retries off) sees <c>--enforce-limits</c> errors as its modeled exceptions and PutRecords
/// partial failures in the shape it parses.</summary>
public sealed class Boto3LimitsTests : ClientTestBase
{
    protected override string[] ServerArgs => LimitsFixture.LimitedArgs;

    [Fact]
    public async Task Boto3SeesThrottlingAsAwsErrors()
    {
        var script = ClientPath("python", "kinesis_limits_boto3.py");
        var stream = UniqueStreamName("pylimits");
        var result = await ExternalTool.RunAsync(
            "python3",
            [script, Server.Endpoint, stream, $"{LimitsFixture.WriteRecordsPerSecond}", $"{LimitsFixture.WriteBytesPerSecond}"],
            env: new Dictionary<string, string> { ["PYTHONUNBUFFERED"] = "1", ["PYTHONDONTWRITEBYTECODE"] = "1" },
            timeout: TimeSpan.FromSeconds(60));

        RequireSuccess(result, "python3 kinesis_limits_boto3.py");
        var summary = Summary(result, "kinesis_limits_boto3.py");
        var context = Describe(result, "summary check");
        Assert.True(summary.GetProperty("ok").GetBoolean(), context);
        Assert.True(summary.GetProperty("failed_record_count").GetInt32() > 0, context);
        Assert.True(summary.GetProperty("failed_record_count").GetInt32() == summary.GetProperty("failed_entries").GetInt32(), context);
        Assert.True(summary.GetProperty("entry_codes").EnumerateArray().Single().GetString() == "ProvisionedThroughputExceededException", context);
        Assert.True(summary.GetProperty("entry_message").GetString() == $"Rate exceeded for shard shardId-000000000000 in stream {stream} under account 000000000000.", context);
        Assert.True(summary.GetProperty("put_record").GetString() == "ProvisionedThroughputExceededException", context);
        Assert.True(summary.GetProperty("put_record_status").GetInt32() == 400, context);
        Assert.True(summary.GetProperty("get_records").GetString() == "ProvisionedThroughputExceededException", context);
        Assert.True(summary.GetProperty("describe_stream").GetString() == "LimitExceededException", context);
        Assert.True(summary.GetProperty("describe_stream_message").GetString() == $"Rate exceeded for stream {stream} under account 000000000000.", context);
    }
}
