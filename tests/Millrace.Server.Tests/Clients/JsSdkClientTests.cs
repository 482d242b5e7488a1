using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Clients;

/// <summary>
/// AWS SDK for JavaScript v3 (<c>@aws-sdk/client-kinesis</c>): create, wait, put, list, read back byte-for-byte,
/// error class, delete; once over the client's default handler (HTTP/2 cleartext) and once over HTTP/1.1.
/// </summary>
public sealed class JsSdkClientTests : ClientTestBase
{
    [Theory]
    [InlineData("h2", "NodeHttp2Handler", "h2")]
    [InlineData("h1", "NodeHttpHandler", "http/1.1")]
    public async Task CoreFlow(string mode, string expectedHandler, string expectedProtocol)
    {
        ClientPath("js", "node_modules", "@aws-sdk", "client-kinesis");
        var script = ClientPath("js", "kinesis-sdk.mjs");
        var stream = UniqueStreamName("js-" + mode);

        var result = await ExternalTool.RunAsync(
            "node",
            [script, Server.Endpoint, stream, mode],
            env: new Dictionary<string, string> { ["NODE_NO_WARNINGS"] = "1" },
            workingDirectory: Path.GetDirectoryName(script),
            timeout: TimeSpan.FromSeconds(90));

        RequireSuccess(result, $"node kinesis-sdk.mjs ({mode})");
        var summary = Summary(result, "kinesis-sdk.mjs");
        var context = Describe(result, "summary check");
        Assert.True(summary.GetProperty("ok").GetBoolean(), context);
        Assert.True(summary.GetProperty("handler").GetString() == expectedHandler, context);
        Assert.True(summary.GetProperty("protocol").GetString() == expectedProtocol, context);
        var sent = summary.GetProperty("sent").GetInt32();
        Assert.True(sent == 76, context);
        Assert.True(summary.GetProperty("received").GetInt32() == sent, context);
        Assert.True(summary.GetProperty("shards").GetInt32() == 2, context);
        Assert.True(summary.GetProperty("handledRequests").GetInt32() >= 20, context);
        Assert.True(summary.GetProperty("checks").GetInt32() >= 400, context);
        Assert.True(summary.GetProperty("error").GetString() == "ResourceNotFoundException", context);
        if (mode == "h2")
        {
            Assert.True(summary.GetProperty("rawH2Status").GetInt32() == 200, context);
        }
    }
}
