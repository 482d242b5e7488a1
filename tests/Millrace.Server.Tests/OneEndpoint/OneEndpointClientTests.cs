using Millrace.Server.Tests.S3;

namespace Millrace.Server.Tests.OneEndpoint;

/// <summary>
/// The one endpoint: with only AWS_ENDPOINT_URL in the environment (no endpoint argument anywhere), boto3 and the JS SDK
/// v3 reach Kinesis, DynamoDB and S3 on the same port.
/// </summary>
public sealed class OneEndpointClientTests(S3ServerFixture fixture) : IClassFixture<S3ServerFixture>
{
    private MillraceProcess Server => fixture.Server;

    [Fact]
    public async Task Boto3ReachesEveryServiceThroughAwsEndpointUrl()
    {
        var name = S3TestSupport.UniqueBucket("oe-py");
        var env = new Dictionary<string, string>(S3TestSupport.PythonEnv) { ["AWS_ENDPOINT_URL"] = Server.Endpoint };
        var result = await ExternalTool.RunAsync("python3", [S3TestSupport.ClientPath("python", "one_endpoint_boto3.py"), name], env, timeout: TimeSpan.FromSeconds(90));
        S3TestSupport.RequireSuccess(Server, result, "one_endpoint_boto3.py");
        var summary = S3TestSupport.Summary(Server, result, "one_endpoint_boto3.py");
        var context = S3TestSupport.Describe(Server, result, "summary check");
        Assert.True(summary.GetProperty("ok").GetBoolean(), context);
        foreach (var service in new[] { "kinesis_endpoint", "dynamodb_endpoint", "s3_endpoint" })
        {
            Assert.True(summary.GetProperty(service).GetString() == Server.Endpoint, context);
        }

        Assert.True(summary.GetProperty("kinesis_records").GetInt32() == 5, context);
        Assert.True(summary.GetProperty("dynamodb_item").GetBoolean(), context);
        Assert.True(summary.GetProperty("s3_auto").GetBoolean() && summary.GetProperty("s3_path").GetBoolean(), context);
    }

    [Fact]
    public async Task JsSdkReachesEveryServiceThroughAwsEndpointUrl()
    {
        var name = S3TestSupport.UniqueBucket("oe-js");
        var dir = S3TestSupport.ClientPath("js");
        S3TestSupport.ClientPath("js", "node_modules", "@aws-sdk", "client-s3");
        var env = new Dictionary<string, string> { ["AWS_ENDPOINT_URL"] = Server.Endpoint };
        var result = await ExternalTool.RunAsync("node", ["one-endpoint-sdk.mjs", name], env, workingDirectory: dir, timeout: TimeSpan.FromSeconds(90));
        S3TestSupport.RequireSuccess(Server, result, "node one-endpoint-sdk.mjs");
        var summary = S3TestSupport.Summary(Server, result, "one-endpoint-sdk.mjs");
        var context = S3TestSupport.Describe(Server, result, "summary check");
        Assert.True(summary.GetProperty("ok").GetBoolean(), context);
        Assert.True(summary.GetProperty("kinesis_records").GetInt32() == 5, context);
        Assert.True(summary.GetProperty("dynamodb_item").GetBoolean() && summary.GetProperty("s3_object").GetBoolean(), context);
    }
}
