using System.Buffers;
using System.Globalization;
using System.Text.Json;
using Millrace.DynamoDb.Expressions;
using Millrace.DynamoDb.Model;
using Millrace.Storage.Tables;
using Millrace.Protocol.Wire;

namespace Millrace.DynamoDb;

/// <summary>The answer to one request: HTTP status and the JSON body.</summary>
public readonly record struct DynamoDbResponse(int Status, byte[] Body);

/// <summary>
/// The DynamoDB operations lease coordination needs (CreateTable, DescribeTable, DeleteTable, ListTables, GetItem,
/// PutItem, UpdateItem, DeleteItem, Scan, Query), over an <see cref="ITableStore"/>. Takes the operation name
/// (the part of X-Amz-Target after "DynamoDB_20120810.") and the JSON body; answers JSON or DynamoDB's error shape.
/// </summary>
public sealed partial class DynamoDbService(ITableStore store, string region, string accountId, TimeProvider clock)
{
    public const string TargetPrefix = "DynamoDB_20120810.";
    public const string ContentType = "application/x-amz-json-1.0";

    private delegate Task Operation(RequestReader request, Utf8JsonWriter writer, CancellationToken ct);

    public static IReadOnlyCollection<string> Operations { get; } =
        ["CreateTable", "DescribeTable", "DeleteTable", "ListTables", "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Scan", "Query",
         "BatchGetItem", "BatchWriteItem",
         "UpdateTable", "TagResource", "UntagResource", "ListTagsOfResource", "DescribeTimeToLive", "DescribeContinuousBackups"];

    public async Task<DynamoDbResponse> HandleAsync(string? operation, ReadOnlyMemory<byte> body, CancellationToken ct = default)
    {
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            Operation handler = operation switch
            {
                "CreateTable" => CreateTableAsync,
                "DescribeTable" => DescribeTableAsync,
                "DeleteTable" => DeleteTableAsync,
                "ListTables" => ListTablesAsync,
                "UpdateTable" => UpdateTableAsync,
                "GetItem" => GetItemAsync,
                "PutItem" => PutItemAsync,
                "UpdateItem" => UpdateItemAsync,
                "DeleteItem" => DeleteItemAsync,
                "Scan" => ScanAsync,
                "Query" => QueryAsync,
                "BatchGetItem" => BatchGetItemAsync,
                "BatchWriteItem" => BatchWriteItemAsync,
                "TagResource" => TagResourceAsync,
                "UntagResource" => UntagResourceAsync,
                "ListTagsOfResource" => ListTagsOfResourceAsync,
                "DescribeTimeToLive" => DescribeTimeToLiveAsync,
                "DescribeContinuousBackups" => DescribeContinuousBackupsAsync,
                _ => throw DynamoDbException.UnknownOperation(),
            };

            JsonDocument document;
            try
            {
                document = JsonDocument.Parse(body.IsEmpty ? "{}"u8.ToArray() : body, new JsonDocumentOptions { MaxDepth = 64 });
            }
            catch (JsonException)
            {
                throw DynamoDbException.Serialization("Could not parse request body into json: Could not parse payload into json");
            }

            using (document)
            {
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw DynamoDbException.Serialization();
                }

                await using var writer = new Utf8JsonWriter(buffer);
                await handler(new RequestReader(document.RootElement), writer, ct);
                await writer.FlushAsync(ct);
            }

            return new DynamoDbResponse(200, buffer.WrittenSpan.ToArray());
        }
        catch (DynamoDbException ex)
        {
            return Error(ex);
        }
        catch (TableNotFoundException)
        {
            return Error(DynamoDbException.ResourceNotFound()); // the table went away mid-request
        }
        catch (InvalidOperationException ex) when (JsonText.IsUndecodableString(ex))
        {
            return Error(DynamoDbException.Serialization(JsonText.UndecodableString));
        }
    }

    /// <summary>DynamoDB's error body: {"__type": "…#Type", "message": "…"} (plus Item for ReturnValuesOnConditionCheckFailure).</summary>
    public static DynamoDbResponse Error(DynamoDbException ex)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("__type", ex.WireType);
            if (ex.Message.Length > 0)
            {
                writer.WriteString("message", ex.Message);
            }

            if (ex.Data["Item"] is IReadOnlyDictionary<string, AttributeValue> item)
            {
                writer.WritePropertyName("Item");
                Item.WriteJson(writer, item);
            }

            writer.WriteEndObject();
        }

        return new DynamoDbResponse(ex.Status, buffer.WrittenSpan.ToArray());
    }

    private long NowMs => clock.GetUtcNow().ToUnixTimeMilliseconds();

    private string TableArn(string table) => $"arn:aws:dynamodb:{region}:{accountId}:table/{table}";

    private async Task<TableMetadata> RequireTableAsync(string name, CancellationToken ct, bool describe = false)
    {
        var stored = await store.GetTableAsync(name, ct);
        if (stored is null)
        {
            throw describe ? DynamoDbException.TableNotFound(name) : DynamoDbException.ResourceNotFound();
        }

        return TableMetadata.Deserialize(stored.Metadata, stored.CreatedMs);
    }

    private static void WriteConsumedCapacity(RequestReader request, Utf8JsonWriter writer, string table, double units)
    {
        var mode = request.Enum("ReturnConsumedCapacity", "NONE", "INDEXES", "TOTAL", "NONE");
        if (mode == "NONE")
        {
            return;
        }

        writer.WriteStartObject("ConsumedCapacity");
        writer.WriteString("TableName", table);
        writer.WriteNumber("CapacityUnits", units);
        if (mode == "INDEXES")
        {
            writer.WriteStartObject("Table");
            writer.WriteNumber("CapacityUnits", units);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }

    private static double ReadUnits(int bytes, bool consistent) => Math.Max(1, Math.Ceiling(bytes / 4096.0)) * (consistent ? 1.0 : 0.5);

    private static double WriteUnits(int bytes) => Math.Max(1, Math.Ceiling(bytes / 1024.0));

    // ---- keys ----

    /// <summary>The store key of a Key parameter, which must name exactly the table's key attributes.</summary>
    private static ItemKey KeyOf(TableMetadata table, IReadOnlyDictionary<string, AttributeValue> key, string notMatching = "The provided key element does not match the schema")
    {
        if (key.Count != (table.Range is null ? 1 : 2))
        {
            throw DynamoDbException.Validation(notMatching);
        }

        var hash = KeyPart(table.Hash, key, notMatching);
        var range = table.Range is null ? [] : KeyPart(table.Range, key, notMatching);
        return new ItemKey(hash, range);
    }

    private static byte[] KeyPart(KeyAttribute attribute, IReadOnlyDictionary<string, AttributeValue> key, string notMatching)
    {
        if (!key.TryGetValue(attribute.Name, out var value) || Parser.WireTypeName(value.Type) != attribute.Type)
        {
            throw DynamoDbException.Validation(notMatching);
        }

        CheckKeyNotEmpty(attribute.Name, value);
        return KeyCodec.Encode(value);
    }

    private static void CheckKeyNotEmpty(string name, AttributeValue value)
    {
        if (value.Type == AttributeType.S && value.S.Length == 0)
        {
            throw DynamoDbException.Validation($"One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {name}");
        }

        if (value.Type == AttributeType.B && value.B.Length == 0)
        {
            throw DynamoDbException.Validation($"One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: {name}");
        }
    }

    /// <summary>The store key of a full item (PutItem), with DynamoDB's messages for missing or mistyped keys.</summary>
    private static ItemKey KeyOfItem(TableMetadata table, IReadOnlyDictionary<string, AttributeValue> item)
    {
        byte[] Part(KeyAttribute attribute)
        {
            if (!item.TryGetValue(attribute.Name, out var value))
            {
                throw DynamoDbException.Validation($"One or more parameter values were invalid: Missing the key {attribute.Name} in the item");
            }

            if (Parser.WireTypeName(value.Type) != attribute.Type)
            {
                throw DynamoDbException.Validation($"One or more parameter values were invalid: Type mismatch for key {attribute.Name} expected: {attribute.Type} actual: {Parser.WireTypeName(value.Type)}");
            }

            CheckKeyNotEmpty(attribute.Name, value);
            return KeyCodec.Encode(value);
        }

        return new ItemKey(Part(table.Hash), table.Range is null ? [] : Part(table.Range));
    }

    /// <summary>Checks what an item about to be stored holds: index key types and the 400 KB limit.</summary>
    private static void CheckStorable(TableMetadata table, IReadOnlyDictionary<string, AttributeValue> item)
    {
        foreach (var index in table.Indexes)
        {
            foreach (var attribute in index.Range is null ? [index.Hash] : new[] { index.Hash, index.Range })
            {
                if (item.TryGetValue(attribute.Name, out var value))
                {
                    if (Parser.WireTypeName(value.Type) != attribute.Type)
                    {
                        throw DynamoDbException.Validation(
                            $"One or more parameter values were invalid: Type mismatch for Index Key {attribute.Name} Expected: {attribute.Type} Actual: {Parser.WireTypeName(value.Type)} IndexName: {index.IndexName}");
                    }

                    if (value is { Type: AttributeType.S, S.Length: 0 } or { Type: AttributeType.B, B.Length: 0 })
                    {
                        throw DynamoDbException.Validation(
                            $"One or more parameter values are not valid. A value specified for a secondary index key is not supported. The AttributeValue for a key attribute cannot contain an empty string value. IndexName: {index.IndexName}, IndexKey: {attribute.Name}");
                    }
                }
            }
        }

        if (Item.Size(item) > Item.MaxItemBytes)
        {
            throw DynamoDbException.Validation("Item size has exceeded the maximum allowed size");
        }
    }

    private static Dictionary<string, AttributeValue> KeyAttributes(TableMetadata table, IReadOnlyDictionary<string, AttributeValue> item, IndexDefinition? index = null)
    {
        var key = new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
        IEnumerable<string> names = table.KeyNames;
        if (index is not null)
        {
            names = names.Concat(index.Range is null ? [index.Hash.Name] : [index.Hash.Name, index.Range.Name]);
        }

        foreach (var name in names)
        {
            if (item.TryGetValue(name, out var v))
            {
                key[name] = v;
            }
        }

        return key;
    }

    private static string Number(double value) => value.ToString(CultureInfo.InvariantCulture);
}
