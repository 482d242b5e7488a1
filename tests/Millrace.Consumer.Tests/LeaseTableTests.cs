using Millrace.Client.DynamoDb;
using Millrace.Consumer.Leases;

namespace Millrace.Consumer.Tests;

/// <summary>The lease table's writes against the server's DynamoDB endpoint: KCL attribute names, and every
/// ownership or progress change conditional on leaseCounter (eviction on leaseOwner).</summary>
public sealed class LeaseTableTests(ConsumerServerFixture fixture) : IClassFixture<ConsumerServerFixture>
{
    private async Task<(DynamoDbClient Dynamo, DynamoDbLeaseRefresher Refresher)> NewTableAsync()
    {
        var dynamo = fixture.NewDynamoDb();
        var refresher = new DynamoDbLeaseRefresher(dynamo, ConsumerServerFixture.UniqueName("leases"));
        await refresher.CreateLeaseTableIfNotExistsAsync(CancellationToken.None);
        await refresher.CreateLeaseTableIfNotExistsAsync(CancellationToken.None); // idempotent
        return (dynamo, refresher);
    }

    [Fact]
    public async Task Table_is_created_with_hash_key_leaseKey_on_demand()
    {
        var (dynamo, refresher) = await NewTableAsync();
        using var _ = dynamo;
        var table = (await dynamo.DescribeTableAsync(new DescribeTableRequest { TableName = refresher.TableName })).Table!;
        Assert.Equal(TableStatus.ACTIVE, table.TableStatus);
        var key = Assert.Single(table.KeySchema!);
        Assert.Equal(("leaseKey", "HASH"), (key.AttributeName, key.KeyType));
    }

    [Fact]
    public async Task Items_use_the_kcl_attribute_names_and_types()
    {
        var (dynamo, refresher) = await NewTableAsync();
        using var _ = dynamo;
        var lease = new Lease
        {
            LeaseKey = "shardId-000000000004",
            Checkpoint = ExtendedSequenceNumber.TrimHorizon,
            ParentShardIds = ["shardId-000000000002", "shardId-000000000003"],
            StartingHashKey = "0",
            EndingHashKey = "170141183460469231731687303715884105727",
        };
        Assert.True(await refresher.CreateLeaseIfNotExistsAsync(lease, CancellationToken.None));
        Assert.False(await refresher.CreateLeaseIfNotExistsAsync(lease, CancellationToken.None));
        Assert.True(await refresher.TakeLeaseAsync(lease, "worker-a", CancellationToken.None));

        var item = (await dynamo.GetItemAsync(new GetItemRequest { TableName = refresher.TableName, Key = new() { ["leaseKey"] = AttributeValue.FromS(lease.LeaseKey) } })).Item!;
        Assert.Equal("worker-a", item["leaseOwner"].S);
        Assert.Equal("1", item["leaseCounter"].N);
        Assert.Equal("1", item["ownerSwitchesSinceCheckpoint"].N);
        Assert.Equal("TRIM_HORIZON", item["checkpoint"].S);
        Assert.Equal("0", item["checkpointSubSequenceNumber"].N);
        Assert.Equal(["shardId-000000000002", "shardId-000000000003"], item["parentShardId"].SS!.Order());
        Assert.Equal("0", item["startingHashKey"].S);
        Assert.Equal("170141183460469231731687303715884105727", item["endingHashKey"].S);
        Assert.False(item.ContainsKey("pendingCheckpoint"));
    }

    [Fact]
    public async Task Writes_with_a_stale_counter_fail_and_change_nothing()
    {
        var (dynamo, refresher) = await NewTableAsync();
        using var _ = dynamo;
        var mine = new Lease { LeaseKey = "shardId-000000000000", Checkpoint = ExtendedSequenceNumber.Latest };
        await refresher.CreateLeaseIfNotExistsAsync(mine, CancellationToken.None);
        Assert.True(await refresher.TakeLeaseAsync(mine, "worker-a", CancellationToken.None));
        Assert.True(await refresher.RenewLeaseAsync(mine, CancellationToken.None));
        Assert.Equal(2, mine.LeaseCounter);

        // Another worker steals with the counter it saw; the first worker's renewal and checkpoint then fail.
        var theirs = (await refresher.GetLeaseAsync(mine.LeaseKey, CancellationToken.None))!;
        Assert.True(await refresher.TakeLeaseAsync(theirs, "worker-b", CancellationToken.None));
        Assert.False(await refresher.RenewLeaseAsync(mine, CancellationToken.None));
        mine.Checkpoint = new ExtendedSequenceNumber("49590338271490256608559692538361571095921575989136588898", 3);
        Assert.False(await refresher.UpdateCheckpointAsync(mine, CancellationToken.None));
        Assert.False(await refresher.EvictLeaseAsync(mine, CancellationToken.None)); // not the owner any more

        var stored = (await refresher.GetLeaseAsync(mine.LeaseKey, CancellationToken.None))!;
        Assert.Equal("worker-b", stored.LeaseOwner);
        Assert.Equal(3, stored.LeaseCounter);
        Assert.Equal(2, stored.OwnerSwitchesSinceCheckpoint);
        Assert.Equal(ExtendedSequenceNumber.Latest, stored.Checkpoint);

        // The owner's checkpoint succeeds, bumps the counter and resets the owner switches; eviction removes the owner.
        theirs.Checkpoint = new ExtendedSequenceNumber("49590338271490256608559692538361571095921575989136588898", 3);
        Assert.True(await refresher.UpdateCheckpointAsync(theirs, CancellationToken.None));
        Assert.True(await refresher.EvictLeaseAsync(theirs, CancellationToken.None));
        stored = (await refresher.GetLeaseAsync(mine.LeaseKey, CancellationToken.None))!;
        Assert.Null(stored.LeaseOwner);
        Assert.Equal(5, stored.LeaseCounter);
        Assert.Equal(0, stored.OwnerSwitchesSinceCheckpoint);
        Assert.Equal(theirs.Checkpoint, stored.Checkpoint);
    }

    [Fact]
    public async Task Scan_pages_through_many_leases()
    {
        var (dynamo, refresher) = await NewTableAsync();
        using var _ = dynamo;
        for (var i = 0; i < 25; i++)
            await refresher.CreateLeaseIfNotExistsAsync(new Lease { LeaseKey = $"shardId-{i:D12}", Checkpoint = ExtendedSequenceNumber.TrimHorizon }, CancellationToken.None);
        var paged = new List<Dictionary<string, AttributeValue>>();
        await foreach (var item in dynamo.ScanAllAsync(new ScanRequest { TableName = refresher.TableName, Limit = 4 }))
            paged.Add(item);
        Assert.Equal(25, paged.Select(i => i["leaseKey"].S).Distinct().Count());
        Assert.Equal(25, (await refresher.ListLeasesAsync(CancellationToken.None)).Count);
    }
}
