using System.Text.Json;
using Millrace.DynamoDb.Model;
using Millrace.Storage.Tables;

namespace Millrace.DynamoDb;

/// <summary>CreateTable, DescribeTable, DeleteTable, ListTables, UpdateTable and the table-level odds and ends.</summary>
public sealed partial class DynamoDbService
{
    private static readonly string[] KeyTypes = ["S", "N", "B"];

    private async Task CreateTableAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        string name = request.TableName();
        var definitions = new List<KeyAttribute>();
        if (request.Get("AttributeDefinitions") is not { ValueKind: JsonValueKind.Array } defs)
        {
            throw DynamoDbException.Validation("1 validation error detected: Value null at 'attributeDefinitions' failed to satisfy constraint: Member must not be null");
        }

        foreach (var def in defs.EnumerateArray())
        {
            var d = new RequestReader(def);
            var type = d.RequiredString("AttributeType");
            if (!KeyTypes.Contains(type))
            {
                throw DynamoDbException.Validation($"1 validation error detected: Value '{type}' at 'attributeDefinitions.1.member.attributeType' failed to satisfy constraint: Member must satisfy enum value set: [B, N, S]");
            }

            definitions.Add(new KeyAttribute(d.RequiredString("AttributeName"), type));
        }

        if (definitions.Select(d => d.Name).Distinct().Count() != definitions.Count)
        {
            throw DynamoDbException.Validation("Cannot have two attributes with the same name");
        }

        var (hash, range) = ParseKeySchema(request.Get("KeySchema"), definitions, "keySchema");
        string billing = request.Enum("BillingMode", "PROVISIONED", "PROVISIONED", "PAY_PER_REQUEST");
        var (rcu, wcu) = ParseThroughput(request.Get("ProvisionedThroughput"), billing);

        var indexes = new List<IndexDefinition>();
        foreach (var (member, global) in new[] { ("GlobalSecondaryIndexes", true), ("LocalSecondaryIndexes", false) })
        {
            if (request.Get(member) is not { ValueKind: JsonValueKind.Array } list)
            {
                continue;
            }

            foreach (var element in list.EnumerateArray())
            {
                var index = new RequestReader(element);
                var indexName = index.RequiredString("IndexName");
                RequestReader.ValidateName(indexName, "indexName");
                var (ih, ir) = ParseKeySchema(index.Get("KeySchema"), definitions, "keySchema");
                if (!global && (ih.Name != hash.Name || ir is null))
                {
                    throw DynamoDbException.Validation($"One or more parameter values were invalid: Index KeySchema does not have the same leading hash key as table KeySchema for index: {indexName}. index hash key: {ih.Name}, table hash key: {hash.Name}");
                }

                var projection = index.Get("Projection") is { } p ? new RequestReader(p) : default;
                string projectionType = projection.Root.ValueKind == JsonValueKind.Object ? projection.Enum("ProjectionType", "ALL", "ALL", "KEYS_ONLY", "INCLUDE") : "ALL";
                var nonKey = projection.Root.ValueKind == JsonValueKind.Object && projection.Get("NonKeyAttributes") is { ValueKind: JsonValueKind.Array } nk
                    ? nk.EnumerateArray().Select(e => e.GetString() ?? "").ToList()
                    : null;
                var (irc, iwc) = global ? ParseThroughput(index.Get("ProvisionedThroughput"), billing, indexName) : (0L, 0L);
                if (indexes.Any(i => i.IndexName == indexName))
                {
                    throw DynamoDbException.Validation($"One or more parameter values were invalid: Duplicate index name: {indexName}");
                }

                indexes.Add(new IndexDefinition
                {
                    IndexName = indexName,
                    Global = global,
                    Hash = ih,
                    Range = ir,
                    ProjectionType = projectionType,
                    NonKeyAttributes = nonKey,
                    ReadCapacityUnits = irc,
                    WriteCapacityUnits = iwc,
                });
            }
        }

        var used = new HashSet<string>(new[] { hash.Name, range?.Name }.Concat(indexes.SelectMany(i => new[] { i.Hash.Name, i.Range?.Name })).OfType<string>());
        if (definitions.Any(d => !used.Contains(d.Name)))
        {
            throw DynamoDbException.Validation(
                $"One or more parameter values were invalid: Some AttributeDefinitions are not used. AttributeDefinitions: [{string.Join(", ", definitions.Select(d => d.Name))}], keys used: [{string.Join(", ", used)}]");
        }

        var tags = new Dictionary<string, string>(StringComparer.Ordinal);
        if (request.Get("Tags") is { ValueKind: JsonValueKind.Array } tagList)
        {
            foreach (var tag in tagList.EnumerateArray())
            {
                var t = new RequestReader(tag);
                tags[t.RequiredString("Key")] = t.RequiredString("Value");
            }
        }

        var metadata = new TableMetadata
        {
            TableName = name,
            TableId = Guid.NewGuid().ToString(),
            Hash = hash,
            Range = range,
            AttributeDefinitions = definitions,
            BillingMode = billing,
            ReadCapacityUnits = rcu,
            WriteCapacityUnits = wcu,
            Indexes = indexes,
            DeletionProtectionEnabled = request.Bool("DeletionProtectionEnabled"),
            Tags = tags,
            CreatedMs = NowMs,
        };
        if (!await store.CreateTableAsync(name, metadata.Serialize(), metadata.CreatedMs, ct))
        {
            throw DynamoDbException.ResourceInUse($"Table already exists: {name}");
        }

        writer.WriteStartObject();
        writer.WritePropertyName("TableDescription");
        WriteTableDescription(writer, metadata, "CREATING", default); // AWS answers CREATING; DescribeTable says ACTIVE at once
        writer.WriteEndObject();
    }

    private static (KeyAttribute Hash, KeyAttribute? Range) ParseKeySchema(JsonElement? schema, List<KeyAttribute> definitions, string path)
    {
        if (schema is not { ValueKind: JsonValueKind.Array } elements)
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null");
        }

        var keys = elements.EnumerateArray().Select(e => new RequestReader(e)).Select(r => (Name: r.RequiredString("AttributeName"), Type: r.RequiredString("KeyType"))).ToList();
        if (keys.Count is < 1 or > 2)
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{keys.Count}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to 2");
        }

        foreach (var k in keys)
        {
            if (k.Type is not ("HASH" or "RANGE"))
            {
                throw DynamoDbException.Validation($"1 validation error detected: Value '{k.Type}' at '{path}.1.member.keyType' failed to satisfy constraint: Member must satisfy enum value set: [HASH, RANGE]");
            }
        }

        if (keys[0].Type != "HASH")
        {
            throw DynamoDbException.Validation("Invalid KeySchema: The first KeySchemaElement is not a HASH key type");
        }

        if (keys.Count == 2 && keys[1].Type != "RANGE")
        {
            throw DynamoDbException.Validation("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type");
        }

        if (keys.Count == 2 && keys[0].Name == keys[1].Name)
        {
            throw DynamoDbException.Validation("Both the Hash Key and the Range Key element in the KeySchema have the same name");
        }

        KeyAttribute Find(string name) => definitions.FirstOrDefault(d => d.Name == name)
            ?? throw DynamoDbException.Validation($"One or more parameter values were invalid: Some index key attributes are not defined in AttributeDefinitions. Keys: [{string.Join(", ", keys.Select(k => k.Name))}], AttributeDefinitions: [{string.Join(", ", definitions.Select(d => d.Name))}]");

        return (Find(keys[0].Name), keys.Count == 2 ? Find(keys[1].Name) : null);
    }

    private static (long Read, long Write) ParseThroughput(JsonElement? throughput, string billing, string? index = null)
    {
        if (billing == "PAY_PER_REQUEST")
        {
            if (throughput is { ValueKind: JsonValueKind.Object })
            {
                throw DynamoDbException.Validation("One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST");
            }

            return (0, 0);
        }

        if (throughput is not { ValueKind: JsonValueKind.Object } t
            || !t.TryGetProperty("ReadCapacityUnits", out var r) || !t.TryGetProperty("WriteCapacityUnits", out var w)
            || !r.TryGetInt64(out long read) || !w.TryGetInt64(out long write))
        {
            throw DynamoDbException.Validation(index is null
                ? "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
                : $"One or more parameter values were invalid: ProvisionedThroughput must be specified for index: {index}");
        }

        if (read < 1 || write < 1)
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{Math.Min(read, write)}' at 'provisionedThroughput.{(read < 1 ? "readCapacityUnits" : "writeCapacityUnits")}' failed to satisfy constraint: Member must have value greater than or equal to 1");
        }

        return (read, write);
    }

    private void WriteTableDescription(Utf8JsonWriter writer, TableMetadata table, string status, TableStatistics stats)
    {
        writer.WriteStartObject();
        writer.WriteStartArray("AttributeDefinitions");
        foreach (var d in table.AttributeDefinitions)
        {
            writer.WriteStartObject();
            writer.WriteString("AttributeName", d.Name);
            writer.WriteString("AttributeType", d.Type);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteString("TableName", table.TableName);
        WriteKeySchema(writer, table.Hash, table.Range);
        writer.WriteString("TableStatus", status);
        writer.WriteNumber("CreationDateTime", table.CreatedMs / 1000.0);
        WriteThroughput(writer, table.ReadCapacityUnits, table.WriteCapacityUnits);
        writer.WriteNumber("TableSizeBytes", stats.SizeBytes);
        writer.WriteNumber("ItemCount", stats.ItemCount);
        writer.WriteString("TableArn", TableArn(table.TableName));
        writer.WriteString("TableId", table.TableId);
        if (table.BillingMode == "PAY_PER_REQUEST")
        {
            writer.WriteStartObject("BillingModeSummary");
            writer.WriteString("BillingMode", "PAY_PER_REQUEST");
            writer.WriteNumber("LastUpdateToPayPerRequestDateTime", table.CreatedMs / 1000.0);
            writer.WriteEndObject();
        }

        foreach (bool global in new[] { true, false })
        {
            var indexes = table.Indexes.Where(i => i.Global == global).ToList();
            if (indexes.Count == 0)
            {
                continue;
            }

            writer.WriteStartArray(global ? "GlobalSecondaryIndexes" : "LocalSecondaryIndexes");
            foreach (var index in indexes)
            {
                writer.WriteStartObject();
                writer.WriteString("IndexName", index.IndexName);
                WriteKeySchema(writer, index.Hash, index.Range);
                writer.WriteStartObject("Projection");
                writer.WriteString("ProjectionType", index.ProjectionType);
                if (index.NonKeyAttributes is { } nonKey)
                {
                    writer.WriteStartArray("NonKeyAttributes");
                    foreach (var a in nonKey)
                    {
                        writer.WriteStringValue(a);
                    }

                    writer.WriteEndArray();
                }

                writer.WriteEndObject();
                if (global)
                {
                    writer.WriteString("IndexStatus", "ACTIVE");
                    WriteThroughput(writer, index.ReadCapacityUnits, index.WriteCapacityUnits);
                }

                writer.WriteNumber("IndexSizeBytes", stats.SizeBytes);
                writer.WriteNumber("ItemCount", stats.ItemCount);
                writer.WriteString("IndexArn", $"{TableArn(table.TableName)}/index/{index.IndexName}");
                writer.WriteEndObject();
            }

            writer.WriteEndArray();
        }

        writer.WriteBoolean("DeletionProtectionEnabled", table.DeletionProtectionEnabled);
        writer.WriteEndObject();
    }

    private static void WriteKeySchema(Utf8JsonWriter writer, KeyAttribute hash, KeyAttribute? range)
    {
        writer.WriteStartArray("KeySchema");
        foreach (var (key, type) in range is null ? [(hash, "HASH")] : new[] { (hash, "HASH"), (range, "RANGE") })
        {
            writer.WriteStartObject();
            writer.WriteString("AttributeName", key.Name);
            writer.WriteString("KeyType", type);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    }

    private static void WriteThroughput(Utf8JsonWriter writer, long read, long write)
    {
        writer.WriteStartObject("ProvisionedThroughput");
        writer.WriteNumber("NumberOfDecreasesToday", 0);
        writer.WriteNumber("ReadCapacityUnits", read);
        writer.WriteNumber("WriteCapacityUnits", write);
        writer.WriteEndObject();
    }

    private async Task DescribeTableAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        string name = request.TableName();
        var table = await RequireTableAsync(name, ct, describe: true);
        var stats = await store.GetStatisticsAsync(name, ct);
        writer.WriteStartObject();
        writer.WritePropertyName("Table");
        WriteTableDescription(writer, table, "ACTIVE", stats);
        writer.WriteEndObject();
    }

    private async Task DeleteTableAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        string name = request.TableName();
        var table = await RequireTableAsync(name, ct, describe: true);
        if (table.DeletionProtectionEnabled)
        {
            throw DynamoDbException.Validation($"1 validation error detected: Table '{name}' can't be deleted while DeletionProtectionEnabled is set to True");
        }

        var stats = await store.GetStatisticsAsync(name, ct);
        if (!await store.DeleteTableAsync(name, ct))
        {
            throw DynamoDbException.TableNotFound(name);
        }

        writer.WriteStartObject();
        writer.WritePropertyName("TableDescription");
        WriteTableDescription(writer, table, "DELETING", stats);
        writer.WriteEndObject();
    }

    private async Task ListTablesAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        int limit = request.Int("Limit", 1, 100) ?? 100;
        var start = request.OptionalString("ExclusiveStartTableName");
        var names = (await store.ListTablesAsync(ct)).Select(t => t.Name)
            .Where(n => start is null || string.CompareOrdinal(n, start) > 0)
            .ToList();
        writer.WriteStartObject();
        writer.WriteStartArray("TableNames");
        foreach (var n in names.Take(limit))
        {
            writer.WriteStringValue(n);
        }

        writer.WriteEndArray();
        if (names.Count > limit)
        {
            writer.WriteString("LastEvaluatedTableName", names[limit - 1]);
        }

        writer.WriteEndObject();
    }

    private async Task UpdateTableAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        string name = request.TableName();
        var table = await RequireTableAsync(name, ct);
        string billing = request.Enum("BillingMode", table.BillingMode, "PROVISIONED", "PAY_PER_REQUEST");
        var (rcu, wcu) = request.Has("ProvisionedThroughput") || billing != table.BillingMode
            ? ParseThroughput(request.Get("ProvisionedThroughput"), billing)
            : (table.ReadCapacityUnits, table.WriteCapacityUnits);
        var updated = new TableMetadata
        {
            TableName = table.TableName,
            TableId = table.TableId,
            Hash = table.Hash,
            Range = table.Range,
            AttributeDefinitions = table.AttributeDefinitions,
            BillingMode = billing,
            ReadCapacityUnits = rcu,
            WriteCapacityUnits = wcu,
            Indexes = table.Indexes,
            DeletionProtectionEnabled = request.Has("DeletionProtectionEnabled") ? request.Bool("DeletionProtectionEnabled") : table.DeletionProtectionEnabled,
            Tags = table.Tags,
            CreatedMs = table.CreatedMs,
        };
        await store.UpdateTableAsync(name, updated.Serialize(), ct);
        var stats = await store.GetStatisticsAsync(name, ct);
        writer.WriteStartObject();
        writer.WritePropertyName("TableDescription");
        WriteTableDescription(writer, updated, "ACTIVE", stats);
        writer.WriteEndObject();
    }

    private string TableFromArn(RequestReader request)
    {
        var arn = request.RequiredString("ResourceArn");
        string prefix = $"arn:aws:dynamodb:{region}:{accountId}:table/";
        return arn.StartsWith(prefix, StringComparison.Ordinal) ? arn[prefix.Length..].Split('/')[0]
            : throw DynamoDbException.Validation($"Invalid TableArn: Invalid ResourceArn provided as input {arn}");
    }

    private async Task TagResourceAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        var name = TableFromArn(request);
        var table = await RequireTableAsync(name, ct);
        if (request.Get("Tags") is { ValueKind: JsonValueKind.Array } tags)
        {
            foreach (var tag in tags.EnumerateArray())
            {
                var t = new RequestReader(tag);
                table.Tags[t.RequiredString("Key")] = t.RequiredString("Value");
            }
        }

        await store.UpdateTableAsync(name, table.Serialize(), ct);
        writer.WriteStartObject();
        writer.WriteEndObject();
    }

    private async Task UntagResourceAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        var name = TableFromArn(request);
        var table = await RequireTableAsync(name, ct);
        if (request.Get("TagKeys") is { ValueKind: JsonValueKind.Array } keys)
        {
            foreach (var key in keys.EnumerateArray())
            {
                table.Tags.Remove(key.GetString() ?? "");
            }
        }

        await store.UpdateTableAsync(name, table.Serialize(), ct);
        writer.WriteStartObject();
        writer.WriteEndObject();
    }

    private async Task ListTagsOfResourceAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        var table = await RequireTableAsync(TableFromArn(request), ct);
        writer.WriteStartObject();
        writer.WriteStartArray("Tags");
        foreach (var (key, value) in table.Tags)
        {
            writer.WriteStartObject();
            writer.WriteString("Key", key);
            writer.WriteString("Value", value);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
        writer.WriteEndObject();
    }

    private async Task DescribeTimeToLiveAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        await RequireTableAsync(request.TableName(), ct, describe: true);
        writer.WriteStartObject();
        writer.WriteStartObject("TimeToLiveDescription");
        writer.WriteString("TimeToLiveStatus", "DISABLED");
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private async Task DescribeContinuousBackupsAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        await RequireTableAsync(request.TableName(), ct, describe: true);
        writer.WriteStartObject();
        writer.WriteStartObject("ContinuousBackupsDescription");
        writer.WriteString("ContinuousBackupsStatus", "DISABLED");
        writer.WriteStartObject("PointInTimeRecoveryDescription");
        writer.WriteString("PointInTimeRecoveryStatus", "DISABLED");
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
