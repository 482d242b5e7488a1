using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Clients;

/// <summary>
/// Enhanced fan-out with the AWS SDK for JavaScript v3's default client (HTTP/2 cleartext): records pushed after
/// subscribing, ResourceInUseException for a second subscription, resuming from ContinuationSequenceNumber without
/// gaps or duplicates, and ChildShards at the end of a split parent (tests/clients/js/subscribe-sdk.mjs).
/// </summary>
public sealed class JsSdkSubscribeToShardTests : ClientTestBase
{
    [Fact]
    public async Task SubscribeToShardWithTheDefaultHttp2Client()
    {
        ClientPath("js", "node_modules", "@aws-sdk", "client-kinesis");
        var script = ClientPath("js", "subscribe-sdk.mjs");
        var result = await ExternalTool.RunAsync(
            "node",
            [script, Server.Endpoint, UniqueStreamName("js-efo")],
            env: new Dictionary<string, string> { ["NODE_NO_WARNINGS"] = "1" },
            workingDirectory: Path.GetDirectoryName(script),
            timeout: TimeSpan.FromSeconds(90));

        RequireSuccess(result, "node subscribe-sdk.mjs");
        var summary = Summary(result, "subscribe-sdk.mjs");
        var context = Describe(result, "summary check");
        Assert.True(summary.GetProperty("ok").GetBoolean(), context);
        Assert.True(summary.GetProperty("handler").GetString() == "NodeHttp2Handler", context);
        Assert.True(summary.GetProperty("pushed").GetInt32() == 10, context);
        Assert.True(summary.GetProperty("resumed").GetInt32() == 5, context);
        Assert.True(summary.GetProperty("riu").GetString() == "ResourceInUseException", context);
        Assert.True(summary.GetProperty("checks").GetInt32() >= 40, context);
    }
}
