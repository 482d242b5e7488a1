using System.Text;
using Millrace.Server.Tests.Infrastructure;
using static Millrace.Server.Tests.ControlPlane.ControlPlaneAssert;

namespace Millrace.Server.Tests.ControlPlane;

/// <summary>Control-plane behaviour that depends on time, with the server in-process on a clock the test moves:
/// retention changes against already expired data, and the commitment's minimum period.</summary>
public sealed class ControlPlaneClockTests : IAsyncLifetime
{
    private readonly InProcessServer _server = new();

    private KinesisJsonClient Client => _server.Client;

    public Task InitializeAsync() => _server.InitializeAsync();

    public Task DisposeAsync() => _server.DisposeAsync();

    private async Task<List<string>> ReadAllAsync(string stream)
    {
        var iterator = (await Client.OkAsync("GetShardIterator", new { StreamName = stream, ShardId = "shardId-000000000000", ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();
        var records = (await Client.OkAsync("GetRecords", new { ShardIterator = iterator }))["Records"]!.AsArray();
        return records.Select(r => Encoding.UTF8.GetString(Convert.FromBase64String(r!["Data"]!.GetValue<string>()))).ToList();
    }

    private Task PutAsync(string stream, string data) =>
        Client.OkAsync("PutRecord", new { StreamName = stream, PartitionKey = "k", Data = Convert.ToBase64String(Encoding.UTF8.GetBytes(data)) });

    [Fact]
    public async Task IncreasingRetentionDoesNotBringExpiredRecordsBack()
    {
        await Client.OkAsync("CreateStream", new { StreamName = "grow", ShardCount = 1 });
        await PutAsync("grow", "expired");
        _server.Clock.Advance(TimeSpan.FromHours(25));
        await PutAsync("grow", "kept");
        Assert.Equal(["kept"], await ReadAllAsync("grow"));

        await Client.OkAsync("IncreaseStreamRetentionPeriod", new { StreamName = "grow", RetentionPeriodHours = 72 });
        Assert.Equal(["kept"], await ReadAllAsync("grow"));

        // From now on the longer period applies: "kept" outlives the old 24 hours.
        _server.Clock.Advance(TimeSpan.FromHours(30));
        Assert.Equal(["kept"], await ReadAllAsync("grow"));
        _server.Clock.Advance(TimeSpan.FromHours(43));
        Assert.Empty(await ReadAllAsync("grow"));
    }

    [Fact]
    public async Task DecreasingRetentionHidesOlderRecordsAtOnce()
    {
        await Client.OkAsync("CreateStream", new { StreamName = "shrink", ShardCount = 1 });
        await Client.OkAsync("IncreaseStreamRetentionPeriod", new { StreamName = "shrink", RetentionPeriodHours = 168 });
        await PutAsync("shrink", "old");
        _server.Clock.Advance(TimeSpan.FromHours(30));
        await PutAsync("shrink", "new");
        Assert.Equal(["old", "new"], await ReadAllAsync("shrink"));

        await Client.OkAsync("DecreaseStreamRetentionPeriod", new { StreamName = "shrink", RetentionPeriodHours = 24 });
        Assert.Equal(["new"], await ReadAllAsync("shrink"));
    }

    [Fact]
    public async Task CommitmentDisabledEarlyEndsAtTheEarliestAllowedTime()
    {
        await Client.OkAsync("CreateStream", new { StreamName = "od", StreamModeDetails = new { StreamMode = "ON_DEMAND" } });
        var enabled = (await Client.OkAsync("UpdateAccountSettings", new { MinimumThroughputBillingCommitment = new { Status = "ENABLED" } }))["MinimumThroughputBillingCommitment"]!;
        var earliest = enabled["EarliestAllowedEndAt"]!.GetValue<double>();

        _server.Clock.Advance(TimeSpan.FromHours(2));
        var pending = (await Client.OkAsync("UpdateAccountSettings", new { MinimumThroughputBillingCommitment = new { Status = "DISABLED" } }))["MinimumThroughputBillingCommitment"]!;
        Assert.Equal("ENABLED_UNTIL_EARLIEST_ALLOWED_END", pending["Status"]!.GetValue<string>());
        await Client.OkAsync("UpdateStreamWarmThroughput", new { StreamName = "od", WarmThroughputMiBps = 10 });

        _server.Clock.Advance(TimeSpan.FromHours(22));
        var ended = (await Client.OkAsync("DescribeAccountSettings", new { }))["MinimumThroughputBillingCommitment"]!;
        Assert.Equal("DISABLED", ended["Status"]!.GetValue<string>());
        Assert.Equal(earliest, ended["EndedAt"]!.GetValue<double>(), 3);
        await ErrorAsync(Client, "UpdateStreamWarmThroughput", new { StreamName = "od", WarmThroughputMiBps = 20 }, "InvalidArgumentException", "requires MinimumThroughputBillingCommitment");

        // A commitment past its minimum period ends at once; a new one starts a new period.
        var again = (await Client.OkAsync("UpdateAccountSettings", new { MinimumThroughputBillingCommitment = new { Status = "ENABLED" } }))["MinimumThroughputBillingCommitment"]!;
        Assert.Equal("ENABLED", again["Status"]!.GetValue<string>());
        Assert.True(again["StartedAt"]!.GetValue<double>() >= earliest);
        _server.Clock.Advance(TimeSpan.FromHours(25));
        var off = (await Client.OkAsync("UpdateAccountSettings", new { MinimumThroughputBillingCommitment = new { Status = "DISABLED" } }))["MinimumThroughputBillingCommitment"]!;
        Assert.Equal("DISABLED", off["Status"]!.GetValue<string>());
        Assert.Equal(_server.Clock.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0, off["EndedAt"]!.GetValue<double>(), 3);
    }
}
