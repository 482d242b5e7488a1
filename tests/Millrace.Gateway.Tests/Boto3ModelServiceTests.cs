using System.Text.Json.Nodes;

namespace Millrace.Gateway.Tests;

/// <summary>
/// Model-driven services hosted on a real Kestrel behind ServiceRouter and GatewayEndpoint, called with real boto3:
/// query (STS, CloudWatch), JSON 1.0 (CloudWatch), rpc-v2-cbor (CloudWatch), rest-json (Lambda) and rest-xml (S3).
/// botocore's client-side validation is off so that bad input reaches the server's validator.
/// </summary>
public sealed class Boto3ModelServiceTests
{
    private static async Task<JsonObject> RunAsync(Uri endpoint, string scenario, string? protocol = null)
    {
        var script = Path.Combine(ExternalTool.RepositoryRoot, "tests", "Millrace.Gateway.Tests", "clients", "model_services.py");
        List<string> args = [script, endpoint.ToString().TrimEnd('/'), scenario];
        if (protocol is not null)
        {
            args.Add(protocol);
        }

        var result = await ExternalTool.RunAsync("python3", args, timeout: TimeSpan.FromMinutes(2));
        Assert.True(result.ExitCode == 0, result.ToString());
        return JsonNode.Parse(result.StdOut)!.AsObject();
    }

    private static string? Text(JsonNode? node) => node?.GetValue<string>();

    [Fact]
    public async Task StsOverQuery()
    {
        await using var gateway = await TestGateway.StartAsync(TestServices.Sts(), TestServices.CloudWatch());
        var r = await RunAsync(gateway.Endpoint, "sts");

        var identity = r["identity"]!["ok"]!;
        Assert.Equal(TestServices.Account, Text(identity["Account"]));
        Assert.Equal("arn:aws:iam::123456789012:user/millrace", Text(identity["Arn"]));
        Assert.False(string.IsNullOrEmpty(Text(r["identity"]!["requestId"])));

        var assumed = r["assumeRole"]!["ok"]!;
        Assert.Equal("2030-01-01T00:15:00Z", Text(assumed["Credentials"]!["Expiration"]));
        Assert.Equal("AROAMILLRACE:session-1", Text(assumed["AssumedRoleUser"]!["AssumedRoleId"]));

        Assert.Equal("ValidationError", Text(r["invalid"]!["error"]));
        Assert.Equal("Sender", Text(r["invalid"]!["type"]));
        Assert.Equal(
            "2 validation errors detected: Value 'arn' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20; "
            + "Value 's' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
            Text(r["invalid"]!["message"]));
        Assert.Equal(
            "1 validation error detected: Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null",
            Text(r["missing"]!["message"]));
        Assert.Equal("InvalidAction", Text(r["unimplemented"]!["error"]));
        Assert.Equal(400, r["unimplemented"]!["status"]!.GetValue<int>());
    }

    [Theory]
    [InlineData(null)] // botocore's pick among the model's protocols (json with this botocore)
    [InlineData("json")]
    [InlineData("query")]
    [InlineData("smithy-rpc-v2-cbor")]
    public async Task CloudWatchOverEachProtocol(string? protocol)
    {
        var seen = new List<string>();
        await using var gateway = await TestGateway.StartAsync(TestServices.Sts(), TestServices.CloudWatch(seen), TestServices.Lambda());
        var r = await RunAsync(gateway.Endpoint, "cloudwatch", protocol);
        Assert.Equal(protocol ?? "json", Assert.Single(seen.Distinct()));

        Assert.Equal(200, r["put"]!["status"]!.GetValue<int>());
        var metrics = r["list"]!["ok"]!["Metrics"]!.AsArray();
        Assert.Equal(["Count", "Latency"], metrics.Select(m => Text(m!["MetricName"])));
        var latency = metrics.Single(m => Text(m!["MetricName"]) == "Latency")!;
        Assert.Equal("Millrace/Test", Text(latency["Namespace"]));
        Assert.Equal(["Shard=0", "Stream=a"], latency["Dimensions"]!.AsArray().Select(d => Text(d!["Name"]) + "=" + Text(d["Value"])));
        Assert.Empty(metrics.Single(m => Text(m!["MetricName"]) == "Count")!["Dimensions"]?.AsArray() ?? []);
        Assert.Single(r["filtered"]!["ok"]!["Metrics"]!.AsArray());

        var stats = r["stats"]!["ok"]!;
        Assert.Equal("Latency", Text(stats["Label"]));
        var point = Assert.Single(stats["Datapoints"]!.AsArray())!;
        Assert.Equal("2026-01-02T03:04:00Z", Text(point["Timestamp"]));
        Assert.Equal(10.0, point["Average"]!.GetValue<double>());
        Assert.Equal(20.0, point["Sum"]!.GetValue<double>());
        Assert.Equal(2.0, point["SampleCount"]!.GetValue<double>());
        Assert.Equal(12.5, point["Maximum"]!.GetValue<double>());
        Assert.Equal("Milliseconds", Text(point["Unit"]));

        var invalid = r["invalid"]!;
        Assert.Equal(protocol == "query" ? "ValidationError" : "ValidationException", Text(invalid["error"]));
        Assert.Equal(
            "3 validation errors detected: Value ':bad' at 'namespace' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:].*; "
            + "Value null at 'metricData.1.member.metricName' failed to satisfy constraint: Member must not be null; "
            + "Value 'Parsecs' at 'metricData.1.member.unit' failed to satisfy constraint: Member must satisfy enum value set: ["
            + "Seconds, Microseconds, Milliseconds, Bytes, Kilobytes, Megabytes, Gigabytes, Terabytes, Bits, Kilobits, Megabits, Gigabits, Terabits, "
            + "Percent, Count, Bytes/Second, Kilobytes/Second, Megabytes/Second, Gigabytes/Second, Terabytes/Second, Bits/Second, Kilobits/Second, "
            + "Megabits/Second, Gigabits/Second, Terabits/Second, Count/Second, None]",
            Text(invalid["message"]));

        // A handler's error by its query code: the model's InvalidParameterValueException, named per protocol.
        Assert.Equal("InvalidParameterValue", Text(r["handlerError"]!["error"]));
        Assert.Equal("The parameter StartTime must be less than the parameter EndTime.", Text(r["handlerError"]!["message"]));
        Assert.Equal(400, r["handlerError"]!["status"]!.GetValue<int>());

        Assert.Equal(protocol == "query" ? "InvalidAction" : "UnknownOperationException", Text(r["unimplemented"]!["error"]));
    }

    [Fact]
    public async Task LambdaOverRestJson()
    {
        await using var gateway = await TestGateway.StartAsync(TestServices.Sts(), TestServices.CloudWatch(), TestServices.Lambda());
        var r = await RunAsync(gateway.Endpoint, "lambda");

        Assert.Equal("arn:aws:lambda:us-east-1:123456789012:function:echo", Text(r["get"]!["ok"]!["Configuration"]!["FunctionArn"]));
        Assert.Equal(128, r["get"]!["ok"]!["Configuration"]!["MemorySize"]!.GetValue<int>());
        Assert.Equal("ResourceNotFoundException", Text(r["missing"]!["error"]));
        Assert.Equal(404, r["missing"]!["status"]!.GetValue<int>());
        Assert.Equal("Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope", Text(r["missing"]!["message"]));

        var invoke = r["invoke"]!["ok"]!;
        Assert.Equal("""{"hello":"world"}""", Text(invoke["Payload"]));
        Assert.Equal(200, invoke["StatusCode"]!.GetValue<int>());
        Assert.Equal("$LATEST", Text(invoke["ExecutedVersion"]));
        Assert.Equal(Convert.ToBase64String("START echo\nEND echo\n"u8.ToArray()), Text(invoke["LogResult"]));
        Assert.Equal(202, r["invokeAsync"]!["status"]!.GetValue<int>());
        Assert.Equal(202, r["invokeAsync"]!["ok"]!["StatusCode"]!.GetValue<int>());

        Assert.Equal(204, r["tag"]!["status"]!.GetValue<int>());
        Assert.Equal("streams", Text(r["tags"]!["ok"]!["Tags"]!["team"]));
        Assert.Equal("test", Text(r["tags"]!["ok"]!["Tags"]!["env"]));

        Assert.Equal("ValidationException", Text(r["invalid"]!["error"]));
        Assert.StartsWith("1 validation error detected: Value 'bad name!' at 'functionName' failed to satisfy constraint: Member must satisfy regular expression pattern: ",
            Text(r["invalid"]!["message"]));
    }

    [Fact]
    public async Task S3BucketTaggingOverRestXml()
    {
        await using var gateway = await TestGateway.StartAsync(TestServices.Sts(), TestServices.S3());
        var r = await RunAsync(gateway.Endpoint, "s3");

        Assert.True(r["putTagging"]!["ok"] is not null, r.ToJsonString());
        var tags = r["getTagging"]!["ok"]!["TagSet"]!.AsArray();
        Assert.Equal(["a=1", "b=2"], tags.Select(t => Text(t!["Key"]) + "=" + Text(t["Value"])));

        var list = r["list"]!["ok"]!;
        Assert.Equal(["logs/a.txt", "logs/b.txt"], list["Contents"]!.AsArray().Select(c => Text(c!["Key"])));
        Assert.Equal(2, list["KeyCount"]!.GetValue<int>());
        Assert.Equal("2026-01-02T03:04:05Z", Text(list["Contents"]![0]!["LastModified"]));
        Assert.False(list["IsTruncated"]!.GetValue<bool>());

        Assert.Equal("NoSuchTagSet", Text(r["missing"]!["error"]));
        Assert.Equal(404, r["missing"]!["status"]!.GetValue<int>());
    }
}
