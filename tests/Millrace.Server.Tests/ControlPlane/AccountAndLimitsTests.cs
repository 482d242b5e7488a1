using System.Net;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;
using static Millrace.Server.Tests.ControlPlane.ControlPlaneAssert;

namespace Millrace.Server.Tests.ControlPlane;

/// <summary>Account-wide state: DescribeLimits and the on-demand quota, the MinimumThroughputBillingCommitment and
/// the warm throughput it unlocks. Each test runs its own server (the state is shared by every stream).</summary>
public sealed class AccountAndLimitsTests
{
    [Fact]
    public async Task DescribeLimitsCountsShardsAndOnDemandStreamsAndTheQuotaHolds()
    {
        await using var server = await MillraceProcess.StartAsync("--shard-limit", "20", "--on-demand-stream-limit", "2");
        using var client = new KinesisJsonClient(server.Endpoint);
        var limits = await client.OkAsync("DescribeLimits", new { });
        Assert.Equal("""{"ShardLimit":20,"OpenShardCount":0,"OnDemandStreamCount":0,"OnDemandStreamCountLimit":2}""", limits.ToJsonString());

        await client.OkAsync("CreateStream", new { StreamName = "p", ShardCount = 3 });
        await client.OkAsync("CreateStream", new { StreamName = "od1", StreamModeDetails = new { StreamMode = "ON_DEMAND" } });
        limits = await client.OkAsync("DescribeLimits", new { });
        Assert.Equal(7, limits["OpenShardCount"]!.GetValue<int>());
        Assert.Equal(1, limits["OnDemandStreamCount"]!.GetValue<int>());

        await client.OkAsync("UpdateStreamMode", new { StreamARN = Arn("p"), StreamModeDetails = new { StreamMode = "ON_DEMAND" } });
        Assert.Equal(2, (await client.OkAsync("DescribeLimits", new { }))["OnDemandStreamCount"]!.GetValue<int>());

        const string quota = "^This request would exceed the on-demand stream count limit for the account 000000000000 in us-east-1\\. Current on-demand stream count for the account: 2\\. Limit: 2\\.$";
        await ErrorAsync(client, "CreateStream", new { StreamName = "od2", StreamModeDetails = new { StreamMode = "ON_DEMAND" } }, "LimitExceededException", quota);
        await ErrorAsync(client, "CreateStream", new { StreamName = "od3" }, "LimitExceededException", quota);
        await client.OkAsync("CreateStream", new { StreamName = "p2", ShardCount = 1 });
        await ErrorAsync(client, "UpdateStreamMode", new { StreamARN = Arn("p2"), StreamModeDetails = new { StreamMode = "ON_DEMAND" } }, "LimitExceededException", quota);

        // Leaving on-demand frees a slot.
        await client.OkAsync("UpdateStreamMode", new { StreamARN = Arn("p"), StreamModeDetails = new { StreamMode = "PROVISIONED" } });
        await client.OkAsync("UpdateStreamMode", new { StreamARN = Arn("p2"), StreamModeDetails = new { StreamMode = "ON_DEMAND" } });
        limits = await client.OkAsync("DescribeLimits", new { });
        Assert.Equal(2, limits["OnDemandStreamCount"]!.GetValue<int>());
        Assert.Equal(8, limits["OpenShardCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task CommitmentEnablesWarmThroughputAndEndsNoEarlierThanAllowed()
    {
        await using var server = await MillraceProcess.StartAsync();
        using var client = new KinesisJsonClient(server.Endpoint);
        Assert.Equal("""{"MinimumThroughputBillingCommitment":{"Status":"DISABLED"}}""", (await client.OkAsync("DescribeAccountSettings", new { })).ToJsonString());
        var limits = await client.OkAsync("DescribeLimits", new { });
        Assert.Equal(1_000_000, limits["ShardLimit"]!.GetValue<int>()); // --shard-limit 0: no quota
        Assert.Equal(50, limits["OnDemandStreamCountLimit"]!.GetValue<int>());

        await client.OkAsync("CreateStream", new { StreamName = "od", StreamModeDetails = new { StreamMode = "ON_DEMAND" } });
        await client.OkAsync("CreateStream", new { StreamName = "prov", ShardCount = 1 });
        const string needsCommitment = "^Warm throughput requires MinimumThroughputBillingCommitment to be enabled for account 000000000000\\.";
        await ErrorAsync(client, "UpdateStreamWarmThroughput", new { StreamName = "od", WarmThroughputMiBps = 100 }, "InvalidArgumentException", needsCommitment);
        await ErrorAsync(client, "UpdateStreamMode", new { StreamARN = Arn("prov"), StreamModeDetails = new { StreamMode = "ON_DEMAND" }, WarmThroughputMiBps = 100 }, "InvalidArgumentException", needsCommitment);
        await ErrorAsync(client, "CreateStream", new { StreamName = "warm", StreamModeDetails = new { StreamMode = "ON_DEMAND" }, WarmThroughputMiBps = 100 }, "InvalidArgumentException", needsCommitment);

        var before = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000.0;
        var enabled = (await client.OkAsync("UpdateAccountSettings", new { MinimumThroughputBillingCommitment = new { Status = "ENABLED" } }))["MinimumThroughputBillingCommitment"]!;
        Assert.Equal("ENABLED", enabled["Status"]!.GetValue<string>());
        var started = enabled["StartedAt"]!.GetValue<double>();
        Assert.InRange(started, before - 1, before + 60);
        Assert.Equal(started + 86_400, enabled["EarliestAllowedEndAt"]!.GetValue<double>(), 3);
        Assert.Null(enabled["EndedAt"]);
        Assert.Equal(enabled.ToJsonString(), (await client.OkAsync("DescribeAccountSettings", new { }))["MinimumThroughputBillingCommitment"]!.ToJsonString());

        // Warm throughput now works on on-demand streams, and shows in DescribeStreamSummary.
        var warm = await client.OkAsync("UpdateStreamWarmThroughput", new { StreamARN = Arn("od"), WarmThroughputMiBps = 100 });
        Assert.Equal("""{"StreamARN":"arn:aws:kinesis:us-east-1:000000000000:stream/od","StreamName":"od","WarmThroughput":{"TargetMiBps":100,"CurrentMiBps":100}}""", warm.ToJsonString());
        Assert.Equal("""{"TargetMiBps":100,"CurrentMiBps":100}""", (await SummaryAsync(client, "od"))["WarmThroughput"]!.ToJsonString());
        await client.OkAsync("CreateStream", new { StreamName = "warm", StreamModeDetails = new { StreamMode = "ON_DEMAND" }, WarmThroughputMiBps = 250 });
        Assert.Equal(250, (await SummaryAsync(client, "warm"))["WarmThroughput"]!["TargetMiBps"]!.GetValue<int>());
        await client.OkAsync("UpdateStreamMode", new { StreamARN = Arn("prov"), StreamModeDetails = new { StreamMode = "ON_DEMAND" }, WarmThroughputMiBps = 50 });
        Assert.Equal(50, (await SummaryAsync(client, "prov"))["WarmThroughput"]!["CurrentMiBps"]!.GetValue<int>());
        await client.OkAsync("UpdateStreamMode", new { StreamARN = Arn("prov"), StreamModeDetails = new { StreamMode = "PROVISIONED" } });
        Assert.Null((await SummaryAsync(client, "prov"))["WarmThroughput"]);

        await ErrorAsync(client, "UpdateStreamWarmThroughput", new { StreamName = "prov", WarmThroughputMiBps = 10 }, "InvalidArgumentException",
            "^Warm throughput is only supported for streams in ON_DEMAND mode\\. Stream prov under account 000000000000 is in PROVISIONED mode\\.$");
        await ErrorAsync(client, "UpdateStreamWarmThroughput", new { StreamName = "od", WarmThroughputMiBps = 10_241 }, "LimitExceededException", "exceeds the limit of 10240 MiBps");
        await ErrorAsync(client, "UpdateStreamWarmThroughput", new { StreamName = "od", WarmThroughputMiBps = -1 }, "ValidationException", "greater than or equal to 0");
        await ErrorAsync(client, "UpdateStreamWarmThroughput", new { StreamName = "missing", WarmThroughputMiBps = 10 }, "ResourceNotFoundException", "not found");
        await ErrorAsync(client, "CreateStream", new { StreamName = "warmp", ShardCount = 1, WarmThroughputMiBps = 10 }, "InvalidArgumentException", "only be specified when the stream mode is ON_DEMAND");

        // Disabling inside the first 24 hours only schedules the end; enabling again cancels it.
        var pending = (await client.OkAsync("UpdateAccountSettings", new { MinimumThroughputBillingCommitment = new { Status = "DISABLED" } }))["MinimumThroughputBillingCommitment"]!;
        Assert.Equal("ENABLED_UNTIL_EARLIEST_ALLOWED_END", pending["Status"]!.GetValue<string>());
        Assert.Equal(enabled["EarliestAllowedEndAt"]!.GetValue<double>(), pending["EndedAt"]!.GetValue<double>(), 3);
        await client.OkAsync("UpdateStreamWarmThroughput", new { StreamName = "od", WarmThroughputMiBps = 200 }); // still in force
        var again = (await client.OkAsync("UpdateAccountSettings", new { MinimumThroughputBillingCommitment = new { Status = "ENABLED" } }))["MinimumThroughputBillingCommitment"]!;
        Assert.Equal("ENABLED", again["Status"]!.GetValue<string>());
        Assert.Null(again["EndedAt"]);
        Assert.Equal(started, again["StartedAt"]!.GetValue<double>(), 3);

        await ErrorAsync(client, "UpdateAccountSettings", new { MinimumThroughputBillingCommitment = new { Status = "PAUSED" } }, "ValidationException", "enum value set");
        await ErrorAsync(client, "UpdateAccountSettings", new { }, "ValidationException", "Value null at 'minimumThroughputBillingCommitment'");
    }
}
