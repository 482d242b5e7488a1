using Millrace.Server.Tests.Clients;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.ControlPlane;

/// <summary>The tagging (stream and resource forms) and retention flows through boto3.</summary>
public sealed class ControlPlaneBoto3Tests : ClientTestBase
{
    [Fact]
    public async Task Boto3TaggingAndRetention()
    {
        var script = ClientPath("python", "control_plane_boto3.py");
        var result = await ExternalTool.RunAsync(
            "python3",
            [script, Server.Endpoint, UniqueStreamName("pytag")],
            env: new Dictionary<string, string> { ["PYTHONUNBUFFERED"] = "1", ["PYTHONDONTWRITEBYTECODE"] = "1" },
            timeout: TimeSpan.FromSeconds(60));
        RequireSuccess(result, "python3 control_plane_boto3.py");
        var summary = Summary(result, "control_plane_boto3.py");
        var context = Describe(result, "summary check");
        Assert.True(summary.GetProperty("ok").GetBoolean(), context);
        Assert.True(summary.GetProperty("checks").GetInt32() >= 10, context);
        var errors = summary.GetProperty("errors");
        Assert.True(errors.GetProperty("too_many").GetString() == "InvalidArgumentException", context);
        Assert.True(errors.GetProperty("reserved").GetString() == "InvalidArgumentException", context);
        Assert.True(errors.GetProperty("bad_chars").GetString() == "InvalidArgumentException", context);
        Assert.True(errors.GetProperty("missing_stream").GetString() == "ResourceNotFoundException", context);
        Assert.True(errors.GetProperty("retention_too_long").GetString() == "InvalidArgumentException", context);
        Assert.True(errors.GetProperty("retention_wrong_way").GetString() == "InvalidArgumentException", context);
    }
}
