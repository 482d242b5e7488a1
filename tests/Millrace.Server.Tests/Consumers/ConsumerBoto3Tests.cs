using Millrace.Server.Tests.Clients;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.Consumers;

/// <summary>The consumer registry through boto3: register, describe, list (paginator), deregister.</summary>
public sealed class ConsumerBoto3Tests : ClientTestBase
{
    [Fact]
    public async Task Boto3RegisterDescribeListDeregister()
    {
        var script = ClientPath("python", "consumers_boto3.py");
        var result = await ExternalTool.RunAsync(
            "python3",
            [script, Server.Endpoint, UniqueStreamName("pyefo")],
            env: new Dictionary<string, string> { ["PYTHONUNBUFFERED"] = "1", ["PYTHONDONTWRITEBYTECODE"] = "1" },
            timeout: TimeSpan.FromSeconds(60));
        RequireSuccess(result, "python3 consumers_boto3.py");
        var summary = Summary(result, "consumers_boto3.py");
        var context = Describe(result, "summary check");
        Assert.True(summary.GetProperty("ok").GetBoolean(), context);
        Assert.True(summary.GetProperty("checks").GetInt32() >= 9, context);
        var errors = summary.GetProperty("errors");
        Assert.True(errors.GetProperty("duplicate").GetString() == "ResourceInUseException", context);
        Assert.True(errors.GetProperty("delete_with_consumers").GetString() == "ResourceInUseException", context);
        Assert.True(errors.GetProperty("describe_deregistered").GetString() == "ResourceNotFoundException", context);
    }
}
