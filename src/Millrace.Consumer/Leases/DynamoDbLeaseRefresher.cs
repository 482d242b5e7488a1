using System.Globalization;
using Millrace.Client.DynamoDb;
using static Millrace.Consumer.Leases.LeaseAttributes;

namespace Millrace.Consumer.Leases;

/// <summary>The lease table in DynamoDB (or Millrace's DynamoDB endpoint): HASH key leaseKey, PAY_PER_REQUEST, items
/// in the KCL's format so a table can be shared with, or inspected like, a KCL application's.</summary>
public sealed class DynamoDbLeaseRefresher(DynamoDbClient dynamo, string tableName) : ILeaseRefresher
{
    public string TableName { get; } = tableName;

    public async Task CreateLeaseTableIfNotExistsAsync(CancellationToken cancellationToken)
    {
        if (await TableStatusAsync(cancellationToken).ConfigureAwait(false) is null)
        {
            try
            {
                await dynamo.CreateTableAsync(new CreateTableRequest
                {
                    TableName = TableName,
                    AttributeDefinitions = [new AttributeDefinition { AttributeName = LeaseKey, AttributeType = "S" }],
                    KeySchema = [new KeySchemaElement { AttributeName = LeaseKey, KeyType = "HASH" }],
                    BillingMode = BillingMode.PAY_PER_REQUEST,
                }, cancellationToken).ConfigureAwait(false);
            }
            catch (ResourceInUseException)
            {
                // Another worker created it first.
            }
        }
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (await TableStatusAsync(cancellationToken).ConfigureAwait(false) != TableStatus.ACTIVE)
        {
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"lease table {TableName} did not become ACTIVE");
            await Task.Delay(TimeSpan.FromMilliseconds(250), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<string?> TableStatusAsync(CancellationToken cancellationToken)
    {
        try
        {
            var described = await dynamo.DescribeTableAsync(new DescribeTableRequest { TableName = TableName }, cancellationToken).ConfigureAwait(false);
            return described.Table?.TableStatus;
        }
        catch (ResourceNotFoundException)
        {
            return null;
        }
    }

    public async Task<List<Lease>> ListLeasesAsync(CancellationToken cancellationToken)
    {
        var leases = new List<Lease>();
        await foreach (var item in dynamo.ScanAllAsync(new ScanRequest { TableName = TableName, ConsistentRead = true }, cancellationToken).ConfigureAwait(false))
        {
            // KCL 3.5 single-table mode keeps other entities in the lease table; skip them.
            if (item.TryGetValue(EntityType, out var type) && type.S is { } entity && entity != "LEASE")
                continue;
            leases.Add(FromItem(item));
        }
        return leases;
    }

    public async Task<Lease?> GetLeaseAsync(string leaseKey, CancellationToken cancellationToken)
    {
        var response = await dynamo.GetItemAsync(new GetItemRequest
        {
            TableName = TableName,
            Key = KeyOf(leaseKey),
            ConsistentRead = true,
        }, cancellationToken).ConfigureAwait(false);
        return response.Item is { Count: > 0 } item ? FromItem(item) : null;
    }

    public async Task<bool> CreateLeaseIfNotExistsAsync(Lease lease, CancellationToken cancellationToken)
    {
        try
        {
            await dynamo.PutItemAsync(new PutItemRequest
            {
                TableName = TableName,
                Item = ToItem(lease),
                ConditionExpression = "attribute_not_exists(#k)",
                ExpressionAttributeNames = new() { ["#k"] = LeaseKey },
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    public async Task<bool> RenewLeaseAsync(Lease lease, CancellationToken cancellationToken)
    {
        var ok = await ConditionalUpdateAsync(lease.LeaseKey, "SET #c = :next", "#c = :expected",
            new() { ["#c"] = LeaseCounter },
            new() { [":expected"] = AttributeValue.FromN(lease.LeaseCounter), [":next"] = AttributeValue.FromN(lease.LeaseCounter + 1) },
            cancellationToken).ConfigureAwait(false);
        if (ok)
            lease.LeaseCounter++;
        return ok;
    }

    public async Task<bool> TakeLeaseAsync(Lease lease, string owner, CancellationToken cancellationToken)
    {
        var ownerChanges = lease.LeaseOwner != owner;
        var update = "SET #c = :next, #o = :owner REMOVE #co" + (ownerChanges ? " ADD #sw :one" : "");
        var names = new Dictionary<string, string> { ["#c"] = LeaseCounter, ["#o"] = LeaseOwner, ["#co"] = CheckpointOwner };
        var values = new Dictionary<string, AttributeValue>
        {
            [":expected"] = AttributeValue.FromN(lease.LeaseCounter),
            [":next"] = AttributeValue.FromN(lease.LeaseCounter + 1),
            [":owner"] = AttributeValue.FromS(owner),
        };
        if (ownerChanges)
        {
            names["#sw"] = OwnerSwitchesSinceCheckpoint;
            values[":one"] = AttributeValue.FromN(1);
        }
        var ok = await ConditionalUpdateAsync(lease.LeaseKey, update, "#c = :expected", names, values, cancellationToken).ConfigureAwait(false);
        if (ok)
        {
            lease.LeaseCounter++;
            lease.LeaseOwner = owner;
            if (ownerChanges)
                lease.OwnerSwitchesSinceCheckpoint++;
        }
        return ok;
    }

    public async Task<bool> EvictLeaseAsync(Lease lease, CancellationToken cancellationToken)
    {
        if (lease.LeaseOwner is null)
            return false;
        var ok = await ConditionalUpdateAsync(lease.LeaseKey, "REMOVE #o ADD #c :one", "#o = :owner",
            new() { ["#o"] = LeaseOwner, ["#c"] = LeaseCounter },
            new() { [":owner"] = AttributeValue.FromS(lease.LeaseOwner), [":one"] = AttributeValue.FromN(1) },
            cancellationToken).ConfigureAwait(false);
        if (ok)
        {
            lease.LeaseOwner = null;
            lease.LeaseCounter++;
        }
        return ok;
    }

    public async Task<bool> UpdateCheckpointAsync(Lease lease, CancellationToken cancellationToken)
    {
        var checkpoint = lease.Checkpoint ?? throw new ArgumentException("no checkpoint to write", nameof(lease));
        var names = new Dictionary<string, string>
        {
            ["#c"] = LeaseCounter, ["#cp"] = Checkpoint, ["#cps"] = CheckpointSubSequenceNumber, ["#sw"] = OwnerSwitchesSinceCheckpoint,
            ["#p"] = PendingCheckpoint, ["#ps"] = PendingCheckpointSubSequenceNumber, ["#pst"] = PendingCheckpointState,
        };
        var values = new Dictionary<string, AttributeValue>
        {
            [":expected"] = AttributeValue.FromN(lease.LeaseCounter),
            [":next"] = AttributeValue.FromN(lease.LeaseCounter + 1),
            [":cp"] = AttributeValue.FromS(checkpoint.SequenceNumber),
            [":cps"] = AttributeValue.FromN(checkpoint.SubSequenceNumber),
            [":zero"] = AttributeValue.FromN(0),
        };
        string update;
        if (lease.PendingCheckpoint is { } pending)
        {
            update = "SET #c = :next, #cp = :cp, #cps = :cps, #sw = :zero, #p = :p, #ps = :ps";
            values[":p"] = AttributeValue.FromS(pending.SequenceNumber);
            values[":ps"] = AttributeValue.FromN(pending.SubSequenceNumber);
            if (lease.PendingCheckpointState is { } state)
            {
                update += ", #pst = :pst";
                values[":pst"] = AttributeValue.FromB(state);
            }
            else
            {
                update += " REMOVE #pst";
            }
        }
        else
        {
            update = "SET #c = :next, #cp = :cp, #cps = :cps, #sw = :zero REMOVE #p, #ps, #pst";
        }
        var ok = await ConditionalUpdateAsync(lease.LeaseKey, update, "#c = :expected", names, values, cancellationToken).ConfigureAwait(false);
        if (ok)
        {
            lease.LeaseCounter++;
            lease.OwnerSwitchesSinceCheckpoint = 0;
        }
        return ok;
    }

    public async Task UpdateChildShardIdsAsync(Lease lease, CancellationToken cancellationToken)
    {
        if (lease.ChildShardIds.Count == 0)
            return;
        await dynamo.UpdateItemAsync(new UpdateItemRequest
        {
            TableName = TableName,
            Key = KeyOf(lease.LeaseKey),
            UpdateExpression = "SET #ch = :ch",
            ConditionExpression = "attribute_exists(#k)",
            ExpressionAttributeNames = new() { ["#ch"] = ChildShardIds, ["#k"] = LeaseKey },
            ExpressionAttributeValues = new() { [":ch"] = AttributeValue.FromSS(lease.ChildShardIds) },
        }, cancellationToken).ConfigureAwait(false);
    }

    public async Task DeleteLeaseAsync(string leaseKey, CancellationToken cancellationToken) =>
        await dynamo.DeleteItemAsync(new DeleteItemRequest { TableName = TableName, Key = KeyOf(leaseKey) }, cancellationToken).ConfigureAwait(false);

    private async Task<bool> ConditionalUpdateAsync(string leaseKey, string update, string condition,
        Dictionary<string, string> names, Dictionary<string, AttributeValue> values, CancellationToken cancellationToken)
    {
        try
        {
            await dynamo.UpdateItemAsync(new UpdateItemRequest
            {
                TableName = TableName,
                Key = KeyOf(leaseKey),
                UpdateExpression = update,
                ConditionExpression = condition,
                ExpressionAttributeNames = names,
                ExpressionAttributeValues = values,
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (ConditionalCheckFailedException)
        {
            return false;
        }
    }

    private static Dictionary<string, AttributeValue> KeyOf(string leaseKey) => new() { [LeaseKey] = AttributeValue.FromS(leaseKey) };

    /// <summary>The full item, as the KCL's serializer writes it (absent attributes for null values; no empty sets,
    /// which DynamoDB refuses).</summary>
    public static Dictionary<string, AttributeValue> ToItem(Lease lease)
    {
        var item = new Dictionary<string, AttributeValue>
        {
            [LeaseKey] = AttributeValue.FromS(lease.LeaseKey),
            [LeaseCounter] = AttributeValue.FromN(lease.LeaseCounter),
            [OwnerSwitchesSinceCheckpoint] = AttributeValue.FromN(lease.OwnerSwitchesSinceCheckpoint),
        };
        if (lease.LeaseOwner is not null)
            item[LeaseOwner] = AttributeValue.FromS(lease.LeaseOwner);
        if (lease.Checkpoint is { } checkpoint)
        {
            item[Checkpoint] = AttributeValue.FromS(checkpoint.SequenceNumber);
            item[CheckpointSubSequenceNumber] = AttributeValue.FromN(checkpoint.SubSequenceNumber);
        }
        if (lease.PendingCheckpoint is { } pending)
        {
            item[PendingCheckpoint] = AttributeValue.FromS(pending.SequenceNumber);
            item[PendingCheckpointSubSequenceNumber] = AttributeValue.FromN(pending.SubSequenceNumber);
        }
        if (lease.PendingCheckpointState is { } state)
            item[PendingCheckpointState] = AttributeValue.FromB(state);
        if (lease.ParentShardIds.Count > 0)
            item[ParentShardId] = AttributeValue.FromSS(lease.ParentShardIds);
        if (lease.ChildShardIds.Count > 0)
            item[ChildShardIds] = AttributeValue.FromSS(lease.ChildShardIds);
        if (lease.StartingHashKey is not null)
            item[StartingHashKey] = AttributeValue.FromS(lease.StartingHashKey);
        if (lease.EndingHashKey is not null)
            item[EndingHashKey] = AttributeValue.FromS(lease.EndingHashKey);
        return item;
    }

    public static Lease FromItem(Dictionary<string, AttributeValue> item)
    {
        string? S(string name) => item.TryGetValue(name, out var v) ? v.S : null;
        long N(string name) => item.TryGetValue(name, out var v) && v.N is { } n
            ? (long)decimal.Parse(n, NumberStyles.Float, CultureInfo.InvariantCulture) : 0;
        var lease = new Lease
        {
            LeaseKey = S(LeaseKey) ?? throw new FormatException("lease item without leaseKey"),
            LeaseOwner = S(LeaseOwner),
            LeaseCounter = N(LeaseCounter),
            OwnerSwitchesSinceCheckpoint = N(OwnerSwitchesSinceCheckpoint),
            ParentShardIds = item.TryGetValue(ParentShardId, out var parents) ? [.. parents.SS ?? (parents.S is { } p ? [p] : [])] : [],
            ChildShardIds = item.TryGetValue(ChildShardIds, out var children) ? [.. children.SS ?? []] : [],
            StartingHashKey = S(StartingHashKey),
            EndingHashKey = S(EndingHashKey),
        };
        if (S(Checkpoint) is { } checkpoint)
            lease.Checkpoint = new ExtendedSequenceNumber(checkpoint, N(CheckpointSubSequenceNumber));
        if (S(PendingCheckpoint) is { } pending)
            lease.PendingCheckpoint = new ExtendedSequenceNumber(pending, N(PendingCheckpointSubSequenceNumber));
        // The KCL's full-item write stores pendingCheckpointState as a number (a known quirk); accept both.
        if (item.TryGetValue(PendingCheckpointState, out var state) && state.B is { } bytes)
            lease.PendingCheckpointState = bytes;
        return lease;
    }
}
