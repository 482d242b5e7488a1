using System.Text.Json;
using Millrace.Server.Tests.Clients;
using Millrace.Server.Tests.Infrastructure;

namespace Millrace.Server.Tests.ControlPlane;

/// <summary>The tagging and retention flows through AWS CLI v2 (<c>/usr/bin/aws</c>). Debian's CLI (2.9) predates
/// tag-resource, untag-resource and list-tags-for-resource; <see cref="ControlPlaneBoto3Tests"/> covers those.</summary>
public sealed class ControlPlaneCliTests : ClientTestBase
{

    [Fact]
    public async Task AwsCliTaggingAndRetention()
    {
        // Few calls on purpose: each CLI start costs about a second.
        var name = UniqueStreamName("clitag");
        var arn = $"arn:aws:kinesis:us-east-1:000000000000:stream/{name}";
        await Aws("create-stream", "--stream-name", name, "--shard-count", "1");
        await Aws("add-tags-to-stream", "--stream-name", name, "--tags", "env=test,team=data,owner=cli");
        await Aws("add-tags-to-stream", "--stream-arn", arn, "--tags", "env=prod");

        var page = await Aws("list-tags-for-stream", "--stream-name", name, "--limit", "2");
        Assert.Equal("env", page.GetProperty("Tags")[0].GetProperty("Key").GetString());
        Assert.Equal("prod", page.GetProperty("Tags")[0].GetProperty("Value").GetString());
        Assert.Equal("owner", page.GetProperty("Tags")[1].GetProperty("Key").GetString());
        Assert.True(page.GetProperty("HasMoreTags").GetBoolean());

        await Aws("remove-tags-from-stream", "--stream-arn", arn, "--tag-keys", "env", "team", "not-there");
        var rest = await Aws("list-tags-for-stream", "--stream-name", name, "--exclusive-start-tag-key", "a");
        Assert.Equal(1, rest.GetProperty("Tags").GetArrayLength());
        Assert.Equal("owner", rest.GetProperty("Tags")[0].GetProperty("Key").GetString());
        Assert.False(rest.GetProperty("HasMoreTags").GetBoolean());

        await Aws("increase-stream-retention-period", "--stream-name", name, "--retention-period-hours", "8760");
        await Aws("decrease-stream-retention-period", "--stream-arn", arn, "--retention-period-hours", "48");
        var summary = (await Aws("describe-stream-summary", "--stream-name", name)).GetProperty("StreamDescriptionSummary");
        Assert.Equal(48, summary.GetProperty("RetentionPeriodHours").GetInt32());

        var tooShort = await AwsRaw("decrease-stream-retention-period", "--stream-name", name, "--retention-period-hours", "12");
        Assert.NotEqual(0, tooShort.ExitCode);
        Assert.Contains("InvalidArgumentException", tooShort.StdErr, StringComparison.Ordinal);
        Assert.Contains("Minimum allowed retention period is 24 hours", tooShort.StdErr, StringComparison.Ordinal);
    }


}
