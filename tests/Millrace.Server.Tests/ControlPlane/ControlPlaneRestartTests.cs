using Millrace.Server.Tests.Infrastructure;
using static Millrace.Server.Tests.ControlPlane.ControlPlaneAssert;

namespace Millrace.Server.Tests.ControlPlane;

/// <summary>Every control-plane setting is in the catalog: a clean stop and restart keeps them all.</summary>
public sealed class ControlPlaneRestartTests
{
    [Fact]
    public async Task SettingsSurviveARestart()
    {
        await using var server = await MillraceProcess.StartAsync();
        const string policy = """{"Version":"2012-10-17","Statement":[]}""";
        using (var client = new KinesisJsonClient(server.Endpoint))
        {
            await client.OkAsync("CreateStream", new { StreamName = "kept", ShardCount = 2, Tags = new Dictionary<string, string> { ["a"] = "1" } });
            await client.OkAsync("AddTagsToStream", new { StreamName = "kept", Tags = new Dictionary<string, string> { ["b"] = "2" } });
            await client.OkAsync("IncreaseStreamRetentionPeriod", new { StreamName = "kept", RetentionPeriodHours = 100 });
            await client.OkAsync("EnableEnhancedMonitoring", new { StreamName = "kept", ShardLevelMetrics = new[] { "IncomingBytes" } });
            await client.OkAsync("UpdateMaxRecordSize", new { StreamARN = Arn("kept"), MaxRecordSizeInKiB = 3072 });
            await client.OkAsync("PutResourcePolicy", new { ResourceARN = Arn("kept"), Policy = policy });
            await client.OkAsync("UpdateAccountSettings", new { MinimumThroughputBillingCommitment = new { Status = "ENABLED" } });
            await client.OkAsync("CreateStream", new { StreamName = "od", StreamModeDetails = new { StreamMode = "ON_DEMAND" }, WarmThroughputMiBps = 64, RecordDistributionStrategy = "AUTO" });
            await client.OkAsync("UpdateStreamMode", new { StreamARN = Arn("kept"), StreamModeDetails = new { StreamMode = "ON_DEMAND" } });
        }

        Assert.Equal(0, await server.StopAsync());
        await server.RestartAsync();

        using (var client = new KinesisJsonClient(server.Endpoint))
        {
            var kept = await SummaryAsync(client, "kept");
            Assert.Equal(100, kept["RetentionPeriodHours"]!.GetValue<int>());
            Assert.Equal(["IncomingBytes"], Strings(kept["EnhancedMonitoring"]![0]!["ShardLevelMetrics"]));
            Assert.Equal(3072, kept["MaxRecordSizeInKiB"]!.GetValue<int>());
            Assert.Equal("ON_DEMAND", kept["StreamModeDetails"]!["StreamMode"]!.GetValue<string>());
            Assert.Equal("""[{"Key":"a","Value":"1"},{"Key":"b","Value":"2"}]""", (await client.OkAsync("ListTagsForStream", new { StreamName = "kept" }))["Tags"]!.ToJsonString());
            Assert.Equal(policy, (await client.OkAsync("GetResourcePolicy", new { ResourceARN = Arn("kept") }))["Policy"]!.GetValue<string>());

            var od = await SummaryAsync(client, "od");
            Assert.Equal("AUTO", od["RecordDistributionStrategy"]!.GetValue<string>());
            Assert.Equal(64, od["WarmThroughput"]!["TargetMiBps"]!.GetValue<int>());
            Assert.Equal("ENABLED", (await client.OkAsync("DescribeAccountSettings", new { }))["MinimumThroughputBillingCommitment"]!["Status"]!.GetValue<string>());
            Assert.Equal(2, (await client.OkAsync("DescribeLimits", new { }))["OnDemandStreamCount"]!.GetValue<int>());
        }
    }
}
