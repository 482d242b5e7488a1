using System.Net;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;
using static Millrace.Server.Tests.ControlPlane.ControlPlaneAssert;

namespace Millrace.Server.Tests.ControlPlane;

/// <summary>Retention and tagging over raw JSON: happy paths, paging and every documented error.</summary>
public sealed class RetentionAndTagTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task RetentionMovesUpAndDownWithinItsRange()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("ret");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        Assert.Equal(24, (await SummaryAsync(client, name))["RetentionPeriodHours"]!.GetValue<int>());

        var ok = await client.CallAsync("IncreaseStreamRetentionPeriod", new { StreamName = name, RetentionPeriodHours = 8760 });
        Assert.Equal(HttpStatusCode.OK, ok.Status);
        Assert.Equal("", ok.Body);
        Assert.Equal(8760, (await SummaryAsync(client, name))["RetentionPeriodHours"]!.GetValue<int>());
        var described = (await client.OkAsync("DescribeStream", new { StreamName = name }))["StreamDescription"]!;
        Assert.Equal(8760, described["RetentionPeriodHours"]!.GetValue<int>());

        await client.OkAsync("DecreaseStreamRetentionPeriod", new { StreamARN = Arn(name), RetentionPeriodHours = 48 });
        Assert.Equal(48, (await SummaryAsync(client, name))["RetentionPeriodHours"]!.GetValue<int>());

        await ErrorAsync(client, "IncreaseStreamRetentionPeriod", new { StreamName = name, RetentionPeriodHours = 8761 }, "InvalidArgumentException",
            @"^Maximum allowed retention period is 8760 hours\. Requested retention period \(8761 hours\) is too long\.$");
        await ErrorAsync(client, "DecreaseStreamRetentionPeriod", new { StreamName = name, RetentionPeriodHours = 23 }, "InvalidArgumentException",
            @"^Minimum allowed retention period is 24 hours\. Requested retention period \(23 hours\) is too short\.$");
        await ErrorAsync(client, "IncreaseStreamRetentionPeriod", new { StreamName = name, RetentionPeriodHours = 24 }, "InvalidArgumentException",
            $@"^Requested retention period \(24 hours\) for stream {name} can not be shorter than existing retention period \(48 hours\)\. Use DecreaseRetentionPeriod API\.$");
        await ErrorAsync(client, "DecreaseStreamRetentionPeriod", new { StreamName = name, RetentionPeriodHours = 100 }, "InvalidArgumentException",
            $@"^Requested retention period \(100 hours\) for stream {name} can not be longer than existing retention period \(48 hours\)\. Use IncreaseRetentionPeriod API\.$");
        await ErrorAsync(client, "IncreaseStreamRetentionPeriod", new { StreamName = name, RetentionPeriodHours = 48 }, "InvalidArgumentException",
            @"must be longer than the existing retention period \(48 hours\)");
        await ErrorAsync(client, "DecreaseStreamRetentionPeriod", new { StreamName = name, RetentionPeriodHours = 48 }, "InvalidArgumentException",
            @"must be shorter than the existing retention period \(48 hours\)");
        await ErrorAsync(client, "IncreaseStreamRetentionPeriod", new { StreamName = "missing-" + name, RetentionPeriodHours = 48 }, "ResourceNotFoundException",
            $"^Stream missing-{name} under account {Account} not found\\.$");
        await ErrorAsync(client, "IncreaseStreamRetentionPeriod", new { RetentionPeriodHours = 48 }, "InvalidArgumentException", "StreamName or StreamARN");
    }

    [Fact]
    public async Task RetentionNeedsAnActiveStream()
    {
        await using var server = await MillraceProcess.StartAsync("--create-stream-ms", "60000");
        using var client = new KinesisJsonClient(server.Endpoint);
        await client.OkAsync("CreateStream", new { StreamName = "slow", ShardCount = 1 });
        await ErrorAsync(client, "IncreaseStreamRetentionPeriod", new { StreamName = "slow", RetentionPeriodHours = 48 }, "ResourceInUseException",
            $"^Stream slow under account {Account} not ACTIVE, instead in state CREATING$");
        await ErrorAsync(client, "AddTagsToStream", new { StreamName = "slow", Tags = new Dictionary<string, string> { ["a"] = "b" } }, "ResourceInUseException", "not ACTIVE");
        await ErrorAsync(client, "EnableEnhancedMonitoring", new { StreamName = "slow", ShardLevelMetrics = new[] { "ALL" } }, "ResourceInUseException", "not ACTIVE");
        await ErrorAsync(client, "UpdateMaxRecordSize", new { StreamARN = Arn("slow"), MaxRecordSizeInKiB = 2048 }, "ResourceInUseException", "not ACTIVE");
        await ErrorAsync(client, "UpdateStreamMode", new { StreamARN = Arn("slow"), StreamModeDetails = new { StreamMode = "ON_DEMAND" } }, "ResourceInUseException", "not ACTIVE");
        await ErrorAsync(client, "PutResourcePolicy", new { ResourceARN = Arn("slow"), Policy = "{}" }, "ResourceInUseException", "not ACTIVE");
    }

    [Fact]
    public async Task StreamTagsAddOverwriteListPageAndRemove()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("tags");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1, Tags = new Dictionary<string, string> { ["env"] = "test", ["team"] = "data" } });

        var listed = await client.OkAsync("ListTagsForStream", new { StreamName = name });
        Assert.Equal("""[{"Key":"env","Value":"test"},{"Key":"team","Value":"data"}]""", listed["Tags"]!.ToJsonString());
        Assert.False(listed["HasMoreTags"]!.GetValue<bool>());

        var tags = Enumerable.Range(0, 12).ToDictionary(i => $"k{i:D2}", i => $"v{i}");
        tags["env"] = "prod"; // overwrites
        tags["empty"] = "";
        tags["Ünïcode key_with ./=+-%@:"] = "välue";
        var added = await client.CallAsync("AddTagsToStream", new { StreamARN = Arn(name), Tags = tags });
        Assert.Equal(HttpStatusCode.OK, added.Status);
        Assert.Equal("", added.Body);

        // Default page of 10, ordered by key; ExclusiveStartTagKey continues after the given key.
        var page1 = await client.OkAsync("ListTagsForStream", new { StreamName = name });
        var keys1 = page1["Tags"]!.AsArray().Select(t => t!["Key"]!.GetValue<string>()).ToList();
        Assert.Equal(10, keys1.Count);
        Assert.True(page1["HasMoreTags"]!.GetValue<bool>());
        Assert.Equal(keys1.Order(StringComparer.Ordinal), keys1);
        var page2 = await client.OkAsync("ListTagsForStream", new { StreamName = name, ExclusiveStartTagKey = keys1[^1], Limit = 50 });
        var keys2 = page2["Tags"]!.AsArray().Select(t => t!["Key"]!.GetValue<string>()).ToList();
        Assert.False(page2["HasMoreTags"]!.GetValue<bool>());
        Assert.Equal(16, keys1.Count + keys2.Count);
        var small = await client.OkAsync("ListTagsForStream", new { StreamName = name, Limit = 3 });
        Assert.Equal(3, small["Tags"]!.AsArray().Count);
        Assert.True(small["HasMoreTags"]!.GetValue<bool>());

        var all = await client.OkAsync("ListTagsForResource", new { ResourceARN = Arn(name) });
        var map = all["Tags"]!.AsArray().ToDictionary(t => t!["Key"]!.GetValue<string>(), t => t!["Value"]!.GetValue<string>());
        Assert.Equal(16, map.Count);
        Assert.Equal("prod", map["env"]);
        Assert.Equal("", map["empty"]);
        Assert.Equal("välue", map["Ünïcode key_with ./=+-%@:"]);

        await client.OkAsync("RemoveTagsFromStream", new { StreamName = name, TagKeys = new[] { "env", "k00", "not-there" } });
        map = (await client.OkAsync("ListTagsForResource", new { ResourceARN = Arn(name) }))["Tags"]!.AsArray()
            .ToDictionary(t => t!["Key"]!.GetValue<string>(), t => t!["Value"]!.GetValue<string>());
        Assert.Equal(14, map.Count);
        Assert.False(map.ContainsKey("env"));
        Assert.True(map.ContainsKey("team"));
    }

    [Fact]
    public async Task ResourceTaggingByArn()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("rtags");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        Assert.Equal("[]", (await client.OkAsync("ListTagsForResource", new { ResourceARN = Arn(name) }))["Tags"]!.ToJsonString());

        var tagged = await client.CallAsync("TagResource", new { ResourceARN = Arn(name), Tags = new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" } });
        Assert.Equal(HttpStatusCode.OK, tagged.Status);
        Assert.Equal("", tagged.Body);
        await client.OkAsync("UntagResource", new { ResourceARN = Arn(name), TagKeys = new[] { "a" } });
        Assert.Equal("""[{"Key":"b","Value":"2"}]""", (await client.OkAsync("ListTagsForResource", new { ResourceARN = Arn(name) }))["Tags"]!.ToJsonString());
        Assert.Equal("""[{"Key":"b","Value":"2"}]""", (await client.OkAsync("ListTagsForStream", new { StreamName = name }))["Tags"]!.ToJsonString());

        await ErrorAsync(client, "TagResource", new { ResourceARN = Arn("missing-" + name), Tags = new Dictionary<string, string> { ["a"] = "1" } }, "ResourceNotFoundException",
            $"^Stream missing-{name} under account {Account} not found\\.$");
        await ErrorAsync(client, "ListTagsForResource", new { ResourceARN = $"arn:aws:kinesis:us-east-1:{Account}:stream/{name}/consumer/c:1" }, "ResourceNotFoundException", "^Consumer .* not found\\.$");
        await ErrorAsync(client, "ListTagsForResource", new { ResourceARN = $"arn:aws:kinesis:us-east-1:123456789012:stream/{name}" }, "ResourceNotFoundException", "under account 123456789012 not found");
        await ErrorAsync(client, "ListTagsForResource", new { ResourceARN = "arn:aws:kinesis:us-east-1:" }, "ValidationException", "resourceARN");
    }

    [Fact]
    public async Task TagLimitsAndCharacters()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("tlim");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        await client.OkAsync("AddTagsToStream", new { StreamName = name, Tags = Enumerable.Range(0, 50).ToDictionary(i => "t" + i, i => "v") });
        await ErrorAsync(client, "AddTagsToStream", new { StreamName = name, Tags = new Dictionary<string, string> { ["one-more"] = "x" } }, "InvalidArgumentException",
            $"^Failed to add tags to stream {name} under account {Account} because a given stream cannot have more than 50 tags associated with it\\.$");
        await client.OkAsync("AddTagsToStream", new { StreamName = name, Tags = new Dictionary<string, string> { ["t0"] = "overwrite is fine at 50" } });

        await ErrorAsync(client, "TagResource", new { ResourceARN = Arn(name), Tags = new Dictionary<string, string> { ["bad*key"] = "x" } }, "InvalidArgumentException",
            "^Some tags contain invalid characters\\. Valid characters: Unicode letters, digits, white space, _ \\. / = \\+ - % @ :\\.$");
        await ErrorAsync(client, "AddTagsToStream", new { StreamName = name, Tags = new Dictionary<string, string> { ["k"] = "bad#value" } }, "InvalidArgumentException", "invalid characters");
        await ErrorAsync(client, "AddTagsToStream", new { StreamName = name, Tags = new Dictionary<string, string> { ["aws:owner"] = "x" } }, "InvalidArgumentException", "'aws:' is reserved");
        await ErrorAsync(client, "RemoveTagsFromStream", new { StreamName = name, TagKeys = new[] { "AWS:owner" } }, "InvalidArgumentException", "'aws:' is reserved");
        await ErrorAsync(client, "AddTagsToStream", new { StreamName = name, Tags = new Dictionary<string, string> { [new string('k', 129)] = "x" } }, "ValidationException", "Member must have length less than or equal to 128");
        await ErrorAsync(client, "AddTagsToStream", new { StreamName = name, Tags = new Dictionary<string, string> { ["k"] = new string('v', 257) } }, "ValidationException", "Member must have length less than or equal to 256");
        await ErrorAsync(client, "ListTagsForStream", new { StreamName = name, Limit = 51 }, "ValidationException", "Member must have value less than or equal to 50");
        await ErrorAsync(client, "ListTagsForStream", new { StreamName = "missing-" + name }, "ResourceNotFoundException", "not found");

        var other = ServerFixture.UniqueName("tcreate");
        await ErrorAsync(client, "CreateStream", new { StreamName = other, ShardCount = 1, Tags = Enumerable.Range(0, 51).ToDictionary(i => "t" + i, i => "v") }, "InvalidArgumentException",
            $"^Failed to create stream {other} under account {Account} because a given stream cannot have more than 50 tags");
        await ErrorAsync(client, "CreateStream", new { StreamName = other, ShardCount = 1, Tags = new Dictionary<string, string> { ["aws:x"] = "1" } }, "InvalidArgumentException", "reserved");
        await ErrorAsync(client, "DescribeStreamSummary", new { StreamName = other }, "ResourceNotFoundException", "not found");
    }
}
