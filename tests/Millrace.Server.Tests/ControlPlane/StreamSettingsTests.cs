using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Millrace.Server.Tests.Infrastructure;
using static Millrace.Server.Tests.ControlPlane.ControlPlaneAssert;

namespace Millrace.Server.Tests.ControlPlane;

/// <summary>Enhanced monitoring, stream mode, max record size, record distribution strategy and resource policies
/// over raw JSON, with the describes reflecting each change.</summary>
public sealed class StreamSettingsTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static readonly string[] AllMetrics =
    [
        "IncomingBytes", "IncomingRecords", "OutgoingBytes", "OutgoingRecords",
        "WriteProvisionedThroughputExceeded", "ReadProvisionedThroughputExceeded", "IteratorAgeMilliseconds",
    ];

    private static string[] Monitoring(JsonNode description) =>
        Strings(description["EnhancedMonitoring"]![0]!["ShardLevelMetrics"]);

    [Fact]
    public async Task EnhancedMonitoringEnablesAndDisablesMetrics()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("mon");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });

        var enabled = await client.OkAsync("EnableEnhancedMonitoring", new { StreamName = name, ShardLevelMetrics = new[] { "OutgoingBytes", "IncomingBytes" } });
        Assert.Equal(name, enabled["StreamName"]!.GetValue<string>());
        Assert.Equal(Arn(name), enabled["StreamARN"]!.GetValue<string>());
        Assert.Empty(Strings(enabled["CurrentShardLevelMetrics"]));
        Assert.Equal(["IncomingBytes", "OutgoingBytes"], Strings(enabled["DesiredShardLevelMetrics"]));
        Assert.Equal(["IncomingBytes", "OutgoingBytes"], Monitoring(await SummaryAsync(client, name)));

        var all = await client.OkAsync("EnableEnhancedMonitoring", new { StreamARN = Arn(name), ShardLevelMetrics = new[] { "ALL" } });
        Assert.Equal(["IncomingBytes", "OutgoingBytes"], Strings(all["CurrentShardLevelMetrics"]));
        Assert.Equal(AllMetrics, Strings(all["DesiredShardLevelMetrics"]));
        Assert.Equal(AllMetrics, Monitoring((await client.OkAsync("DescribeStream", new { StreamName = name }))["StreamDescription"]!));

        var disabled = await client.OkAsync("DisableEnhancedMonitoring", new { StreamName = name, ShardLevelMetrics = new[] { "IteratorAgeMilliseconds", "IncomingRecords" } });
        Assert.Equal(AllMetrics, Strings(disabled["CurrentShardLevelMetrics"]));
        Assert.Equal(AllMetrics.Except(["IteratorAgeMilliseconds", "IncomingRecords"]), Strings(disabled["DesiredShardLevelMetrics"]));

        var none = await client.OkAsync("DisableEnhancedMonitoring", new { StreamName = name, ShardLevelMetrics = new[] { "ALL" } });
        Assert.Empty(Strings(none["DesiredShardLevelMetrics"]));
        Assert.Empty(Monitoring(await SummaryAsync(client, name)));

        await ErrorAsync(client, "EnableEnhancedMonitoring", new { StreamName = name, ShardLevelMetrics = new[] { "Bogus" } }, "ValidationException", "Member must satisfy enum value set");
        await ErrorAsync(client, "EnableEnhancedMonitoring", new { StreamName = name, ShardLevelMetrics = Array.Empty<string>() }, "ValidationException", "length greater than or equal to 1");
        await ErrorAsync(client, "DisableEnhancedMonitoring", new { StreamName = "missing-" + name, ShardLevelMetrics = new[] { "ALL" } }, "ResourceNotFoundException", "not found");
    }

    [Fact]
    public async Task StreamModeSwitchesBothWays()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("mode");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 2 });
        var summary = await SummaryAsync(client, name);
        Assert.Equal("PROVISIONED", summary["StreamModeDetails"]!["StreamMode"]!.GetValue<string>());
        Assert.Null(summary["RecordDistributionStrategy"]); // only on-demand streams show it

        var switched = await client.CallAsync("UpdateStreamMode", new { StreamARN = Arn(name), StreamModeDetails = new { StreamMode = "ON_DEMAND" } });
        Assert.Equal(HttpStatusCode.OK, switched.Status);
        Assert.Equal("", switched.Body);
        summary = await SummaryAsync(client, name);
        Assert.Equal("ON_DEMAND", summary["StreamModeDetails"]!["StreamMode"]!.GetValue<string>());
        Assert.Equal("ACTIVE", summary["StreamStatus"]!.GetValue<string>());
        Assert.Equal("USER_PARTITION_KEY", summary["RecordDistributionStrategy"]!.GetValue<string>());
        Assert.Equal(2, summary["OpenShardCount"]!.GetValue<int>());
        var listed = (await client.OkAsync("ListStreams", new { }))["StreamSummaries"]!.AsArray().Single(s => s!["StreamName"]!.GetValue<string>() == name)!;
        Assert.Equal("ON_DEMAND", listed["StreamModeDetails"]!["StreamMode"]!.GetValue<string>());

        await client.OkAsync("UpdateStreamMode", new { StreamARN = Arn(name), StreamModeDetails = new { StreamMode = "PROVISIONED" } });
        Assert.Equal("PROVISIONED", (await client.OkAsync("DescribeStream", new { StreamName = name }))["StreamDescription"]!["StreamModeDetails"]!["StreamMode"]!.GetValue<string>());

        await ErrorAsync(client, "UpdateStreamMode", new { StreamARN = Arn(name), StreamModeDetails = new { StreamMode = "PROVISIONED" }, WarmThroughputMiBps = 10 }, "InvalidArgumentException",
            "WarmThroughputMiBps can only be specified when the stream mode is ON_DEMAND");
        await ErrorAsync(client, "UpdateStreamMode", new { StreamARN = Arn("missing-" + name), StreamModeDetails = new { StreamMode = "ON_DEMAND" } }, "ResourceNotFoundException", "not found");
        await ErrorAsync(client, "UpdateStreamMode", new { StreamModeDetails = new { StreamMode = "ON_DEMAND" } }, "ValidationException", "Value null at 'streamARN'");
        await ErrorAsync(client, "UpdateStreamMode", new { StreamARN = Arn(name), StreamModeDetails = new { StreamMode = "FAST" } }, "ValidationException", "enum value set");
    }

    [Fact]
    public async Task MaxRecordSizeAdmitsRecordsUpToTenMiB()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("big");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        Assert.Equal(1024, (await SummaryAsync(client, name))["MaxRecordSizeInKiB"]!.GetValue<int>());

        var tenMiB = new byte[10 * 1024 * 1024 - 1]; // plus a one-byte partition key: exactly 10 MiB
        Random.Shared.NextBytes(tenMiB);
        await ErrorAsync(client, "PutRecord", new { StreamName = name, PartitionKey = "k", Data = Convert.ToBase64String(tenMiB) }, "InvalidArgumentException",
            "exceeds the maximum record size of 1048576 bytes");

        var updated = await client.CallAsync("UpdateMaxRecordSize", new { StreamARN = Arn(name), MaxRecordSizeInKiB = 10240 });
        Assert.Equal(HttpStatusCode.OK, updated.Status);
        Assert.Equal("", updated.Body);
        Assert.Equal(10240, (await SummaryAsync(client, name))["MaxRecordSizeInKiB"]!.GetValue<int>());

        var put = await client.OkAsync("PutRecord", new { StreamName = name, PartitionKey = "k", Data = Convert.ToBase64String(tenMiB) });
        var iterator = (await client.OkAsync("GetShardIterator", new { StreamName = name, ShardId = put["ShardId"]!.GetValue<string>(), ShardIteratorType = "TRIM_HORIZON" }))["ShardIterator"]!.GetValue<string>();
        var read = (await client.OkAsync("GetRecords", new { ShardIterator = iterator }))["Records"]!.AsArray();
        Assert.Single(read);
        Assert.Equal(tenMiB, Convert.FromBase64String(read[0]!["Data"]!.GetValue<string>()));

        await ErrorAsync(client, "PutRecord", new { StreamName = name, PartitionKey = "kk", Data = Convert.ToBase64String(tenMiB) }, "InvalidArgumentException",
            "exceeds the maximum record size of 10485760 bytes");
        var twoBig = Enumerable.Range(0, 2).Select(_ => new { PartitionKey = "k", Data = Convert.ToBase64String(new byte[6 * 1024 * 1024]) }).ToArray();
        await ErrorAsync(client, "PutRecords", new { StreamName = name, Records = twoBig }, "InvalidArgumentException", "^Records size exceeds 10 MB limit$");

        await client.OkAsync("UpdateMaxRecordSize", new { StreamARN = Arn(name), MaxRecordSizeInKiB = 2048 });
        var twoMiB = new byte[2 * 1024 * 1024 - 1];
        await client.OkAsync("PutRecords", new { StreamName = name, Records = new[] { new { PartitionKey = "k", Data = Convert.ToBase64String(twoMiB) } } });

        await ErrorAsync(client, "UpdateMaxRecordSize", new { StreamARN = Arn(name), MaxRecordSizeInKiB = 1023 }, "ValidationException", "greater than or equal to 1024");
        await ErrorAsync(client, "UpdateMaxRecordSize", new { StreamARN = Arn(name), MaxRecordSizeInKiB = 10241 }, "ValidationException", "less than or equal to 10240");
        await ErrorAsync(client, "UpdateMaxRecordSize", new { StreamARN = Arn("missing-" + name), MaxRecordSizeInKiB = 2048 }, "ResourceNotFoundException", "not found");

        var created = ServerFixture.UniqueName("bigc");
        await client.OkAsync("CreateStream", new { StreamName = created, ShardCount = 1, MaxRecordSizeInKiB = 4096 });
        Assert.Equal(4096, (await SummaryAsync(client, created))["MaxRecordSizeInKiB"]!.GetValue<int>());
    }

    [Fact]
    public async Task AutoDistributionSpreadsRecordsAndMakesPartitionKeysOptional()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("auto");
        await client.OkAsync("CreateStream", new { StreamName = name, StreamModeDetails = new { StreamMode = "ON_DEMAND" } });
        Assert.Equal("USER_PARTITION_KEY", (await SummaryAsync(client, name))["RecordDistributionStrategy"]!.GetValue<string>());

        // USER_PARTITION_KEY: the key is still required, with the model's wording.
        await ErrorAsync(client, "PutRecord", new { StreamName = name, Data = "AA==" }, "ValidationException",
            "^1 validation error detected: Value null at 'partitionKey' failed to satisfy constraint: Member must not be null$");
        await ErrorAsync(client, "PutRecords", new { StreamName = name, Records = new object[] { new { PartitionKey = "k", Data = "AA==" }, new { Data = "AA==" } } }, "ValidationException",
            "^1 validation error detected: Value null at 'records.2.member.partitionKey' failed to satisfy constraint: Member must not be null$");

        var set = await client.CallAsync("UpdateStreamRecordDistributionStrategy", new { StreamARN = Arn(name), RecordDistributionStrategy = "AUTO" });
        Assert.Equal(HttpStatusCode.OK, set.Status);
        Assert.Equal("", set.Body);
        Assert.Equal("AUTO", (await SummaryAsync(client, name))["RecordDistributionStrategy"]!.GetValue<string>());

        // One partition key (and an explicit hash key) for every record, yet they land on all four shards.
        var shards = new HashSet<string>();
        for (int i = 0; i < 10; i++)
        {
            var batch = Enumerable.Range(0, 20).Select(j => new { PartitionKey = "same", ExplicitHashKey = "0", Data = Convert.ToBase64String(Encoding.UTF8.GetBytes($"r{i}-{j}")) }).ToArray();
            var result = await client.OkAsync("PutRecords", new { StreamName = name, Records = batch });
            Assert.Equal(0, result["FailedRecordCount"]!.GetValue<int>());
            shards.UnionWith(result["Records"]!.AsArray().Select(r => r!["ShardId"]!.GetValue<string>()));
        }

        Assert.Equal(4, shards.Count);

        // Without a key: accepted, and GetRecords leaves PartitionKey out.
        var put = await client.OkAsync("PutRecord", new { StreamName = name, Data = Convert.ToBase64String("keyless"u8.ToArray()) });
        await client.OkAsync("PutRecords", new { StreamName = name, Records = new[] { new { Data = Convert.ToBase64String("keyless too"u8.ToArray()) } } });
        var iterator = (await client.OkAsync("GetShardIterator", new { StreamName = name, ShardId = put["ShardId"]!.GetValue<string>(), ShardIteratorType = "AT_SEQUENCE_NUMBER", StartingSequenceNumber = put["SequenceNumber"]!.GetValue<string>() }))["ShardIterator"]!.GetValue<string>();
        var first = (await client.OkAsync("GetRecords", new { ShardIterator = iterator, Limit = 1 }))["Records"]![0]!;
        Assert.Equal("keyless", Encoding.UTF8.GetString(Convert.FromBase64String(first["Data"]!.GetValue<string>())));
        Assert.Null(first["PartitionKey"]);

        // Back to USER_PARTITION_KEY: MD5 routing again.
        await client.OkAsync("UpdateStreamRecordDistributionStrategy", new { StreamARN = Arn(name), RecordDistributionStrategy = "USER_PARTITION_KEY" });
        var a = await client.OkAsync("PutRecord", new { StreamName = name, PartitionKey = "p", ExplicitHashKey = "0", Data = "AA==" });
        Assert.Equal("shardId-000000000000", a["ShardId"]!.GetValue<string>());

        // Switching to PROVISIONED drops AUTO; AUTO is refused on provisioned streams.
        await client.OkAsync("UpdateStreamRecordDistributionStrategy", new { StreamARN = Arn(name), RecordDistributionStrategy = "AUTO" });
        await client.OkAsync("UpdateStreamMode", new { StreamARN = Arn(name), StreamModeDetails = new { StreamMode = "PROVISIONED" } });
        await ErrorAsync(client, "PutRecord", new { StreamName = name, Data = "AA==" }, "ValidationException", "partitionKey");
        await ErrorAsync(client, "UpdateStreamRecordDistributionStrategy", new { StreamARN = Arn(name), RecordDistributionStrategy = "AUTO" }, "InvalidArgumentException",
            $"^The AUTO record distribution strategy is only supported for streams in ON_DEMAND mode\\. Stream {name} under account {Account} is in PROVISIONED mode\\.$");
        await client.OkAsync("UpdateStreamRecordDistributionStrategy", new { StreamARN = Arn(name), RecordDistributionStrategy = "USER_PARTITION_KEY" });
        await ErrorAsync(client, "UpdateStreamRecordDistributionStrategy", new { StreamARN = Arn(name), RecordDistributionStrategy = "RANDOM" }, "ValidationException", "enum value set");
        await ErrorAsync(client, "UpdateStreamRecordDistributionStrategy", new { StreamARN = Arn("missing-" + name), RecordDistributionStrategy = "AUTO" }, "ResourceNotFoundException", "not found");

        var created = ServerFixture.UniqueName("autoc");
        await client.OkAsync("CreateStream", new { StreamName = created, StreamModeDetails = new { StreamMode = "ON_DEMAND" }, RecordDistributionStrategy = "AUTO" });
        Assert.Equal("AUTO", (await SummaryAsync(client, created))["RecordDistributionStrategy"]!.GetValue<string>());
        await ErrorAsync(client, "CreateStream", new { StreamName = created + "p", ShardCount = 1, RecordDistributionStrategy = "AUTO" }, "InvalidArgumentException", "only supported for streams in ON_DEMAND mode");
    }

    [Fact]
    public async Task ResourcePoliciesAreStoredAsGiven()
    {
        using var client = fixture.NewClient();
        var name = ServerFixture.UniqueName("pol");
        await client.OkAsync("CreateStream", new { StreamName = name, ShardCount = 1 });
        Assert.Equal("{}", (await client.OkAsync("GetResourcePolicy", new { ResourceARN = Arn(name) }))["Policy"]!.GetValue<string>());

        var policy = """{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kinesis:GetRecords","Resource":"*"}]}""";
        var put = await client.CallAsync("PutResourcePolicy", new { ResourceARN = Arn(name), Policy = policy });
        Assert.Equal(HttpStatusCode.OK, put.Status);
        Assert.Equal("", put.Body);
        Assert.Equal(policy, (await client.OkAsync("GetResourcePolicy", new { ResourceARN = Arn(name) }))["Policy"]!.GetValue<string>());

        var deleted = await client.CallAsync("DeleteResourcePolicy", new { ResourceARN = Arn(name) });
        Assert.Equal(HttpStatusCode.OK, deleted.Status);
        Assert.Equal("{}", (await client.OkAsync("GetResourcePolicy", new { ResourceARN = Arn(name) }))["Policy"]!.GetValue<string>());
        await client.OkAsync("DeleteResourcePolicy", new { ResourceARN = Arn(name) }); // nothing to delete is fine

        await ErrorAsync(client, "PutResourcePolicy", new { ResourceARN = Arn(name), Policy = "not json" }, "InvalidArgumentException", "^Policy is not a valid JSON document\\.$");
        await ErrorAsync(client, "GetResourcePolicy", new { ResourceARN = Arn("missing-" + name) }, "ResourceNotFoundException", "not found");
        await ErrorAsync(client, "PutResourcePolicy", new { ResourceARN = $"arn:aws:kinesis:us-east-1:{Account}:stream/{name}/consumer/c:1", Policy = "{}" }, "ResourceNotFoundException", "^Consumer");
        await ErrorAsync(client, "PutResourcePolicy", new { ResourceARN = Arn(name) }, "ValidationException", "Value null at 'policy'");
    }
}
