using System.Text.Json;
using Millrace.DynamoDb.Expressions;
using Millrace.DynamoDb.Model;
using Millrace.Storage.Tables;

namespace Millrace.DynamoDb;

/// <summary>
/// Scan and Query, with Limit/ExclusiveStartKey/LastEvaluatedKey paging, FilterExpression, projections, Select and
/// secondary indexes. Table reads go to the store in key order; index reads (lease tables are small) read the table
/// and order by the index key.
/// </summary>
public sealed partial class DynamoDbService
{
    private const int PageBytes = 1024 * 1024; // DynamoDB stops a page after 1 MB of read data
    private const int StoreBatch = 256;

    private sealed record Candidate(Dictionary<string, AttributeValue> Item, int Size);

    private async Task ScanAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        string name = request.TableName();
        request.RejectMixed(["ScanFilter", "ConditionalOperator", "AttributesToGet"], ["FilterExpression", "ProjectionExpression"]);
        var context = request.Expressions(request.Has("FilterExpression") || request.Has("ProjectionExpression"));
        var filter = request.OptionalString("FilterExpression") is { } f
            ? Parser.ParseCondition(f, "FilterExpression", context)
            : Legacy.FromConditions(request.Get("ScanFilter"), request.OptionalString("ConditionalOperator"), "ScanFilter");
        var projection = Projection(request, context);
        context.ThrowIfUnused();
        int? limit = request.Int("Limit", 1, int.MaxValue);
        int? segment = request.Int("Segment", 0, 999999);
        int? totalSegments = request.Int("TotalSegments", 1, 1000000);
        if (segment.HasValue != totalSegments.HasValue)
        {
            throw DynamoDbException.Validation(segment.HasValue
                ? "The TotalSegments parameter is required but was not present in the request when Segment parameter is present"
                : "The Segment parameter is required but was not present in the request when parameter TotalSegments is present");
        }

        if (segment >= totalSegments)
        {
            throw DynamoDbException.Validation($"The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: {segment} is not less than TotalSegments: {totalSegments}");
        }

        var table = await RequireTableAsync(name, ct);
        var index = IndexOf(request, table);
        var select = SelectOf(request, index, projection);
        var start = StartKey(request, table, index);

        IAsyncEnumerable<Candidate> source = index is null
            ? TableItems(name, null, start, descending: false, ct)
            : IndexItems(name, table, index, hashValue: null, rangeCondition: null, forward: true, start, ct);
        if (totalSegments is { } total)
        {
            var keyName = (index?.Hash ?? table.Hash).Name;
            source = source.Where(c => c.Item.TryGetValue(keyName, out var hk) && SegmentOf(KeyCodec.Encode(hk), total) == segment);
        }

        await WritePageAsync(request, writer, table, index, source, filter, projection, select, limit, ct);
    }

    private static uint SegmentOf(byte[] hashKey, int total)
    {
        uint hash = 2166136261;
        foreach (byte b in hashKey)
        {
            hash = (hash ^ b) * 16777619;
        }

        return hash % (uint)total;
    }

    private async Task QueryAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        string name = request.TableName();
        request.RejectMixed(["KeyConditions", "QueryFilter", "ConditionalOperator", "AttributesToGet"], ["KeyConditionExpression", "FilterExpression", "ProjectionExpression"]);
        var context = request.Expressions(request.Has("KeyConditionExpression") || request.Has("FilterExpression") || request.Has("ProjectionExpression"));
        Condition keyCondition = request.OptionalString("KeyConditionExpression") is { } k
            ? Parser.ParseCondition(k, "KeyConditionExpression", context)
            : Legacy.FromConditions(request.Get("KeyConditions"), null, "KeyConditions")
              ?? throw DynamoDbException.Validation("Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.");
        var filter = request.OptionalString("FilterExpression") is { } f
            ? Parser.ParseCondition(f, "FilterExpression", context)
            : Legacy.FromConditions(request.Get("QueryFilter"), request.OptionalString("ConditionalOperator"), "QueryFilter");
        var projection = Projection(request, context);
        context.ThrowIfUnused();
        int? limit = request.Int("Limit", 1, int.MaxValue);
        bool forward = !request.Has("ScanIndexForward") || request.Bool("ScanIndexForward");

        var table = await RequireTableAsync(name, ct);
        var index = IndexOf(request, table);
        var select = SelectOf(request, index, projection);
        var hashKey = index?.Hash ?? table.Hash;
        var rangeKey = index is null ? table.Range : index.Range;
        var (hashValue, rangeCondition) = SplitKeyCondition(keyCondition, hashKey, rangeKey);
        var start = StartKey(request, table, index);

        var source = index is null
            ? TableItems(name, KeyCodec.Encode(hashValue), start, descending: !forward, ct).Where(c => rangeCondition is null || Evaluator.Evaluate(rangeCondition, c.Item))
            : IndexItems(name, table, index, hashValue, rangeCondition, forward, start, ct);
        await WritePageAsync(request, writer, table, index, source, filter, projection, select, limit, ct);
    }

    private static (AttributeValue Hash, Condition? Range) SplitKeyCondition(Condition condition, KeyAttribute hashKey, KeyAttribute? rangeKey)
    {
        var parts = new List<Condition>();
        void Flatten(Condition c)
        {
            if (c is AndCondition and)
            {
                Flatten(and.Left);
                Flatten(and.Right);
            }
            else
            {
                parts.Add(c);
            }
        }

        Flatten(condition);
        if (parts.Count > 2)
        {
            throw DynamoDbException.Validation("Conditions can be of length 1 or 2 only");
        }

        AttributeValue? hash = null;
        Condition? range = null;
        foreach (var part in parts)
        {
            switch (part)
            {
                case ComparisonCondition { Left: PathOperand { Path.IsTopLevel: true } p, Right: ValueOperand v } c when p.Path.TopLevelName == hashKey.Name:
                    if (c.Comparator != "=" || hash is not null)
                    {
                        throw DynamoDbException.Validation("Query key condition not supported");
                    }

                    if (Parser.WireTypeName(v.Value.Type) != hashKey.Type)
                    {
                        throw DynamoDbException.Validation("One or more parameter values were invalid: Condition parameter type does not match schema type");
                    }

                    hash = v.Value;
                    break;
                case ComparisonCondition { Left: PathOperand { Path.IsTopLevel: true } p, Right: ValueOperand v } c when p.Path.TopLevelName == rangeKey?.Name && c.Comparator != "<>" && range is null:
                    CheckRangeType(v.Value, rangeKey);
                    range = part;
                    break;
                case BetweenCondition { Value: PathOperand { Path.IsTopLevel: true } p, Low: ValueOperand low, High: ValueOperand high } when p.Path.TopLevelName == rangeKey?.Name && range is null:
                    CheckRangeType(low.Value, rangeKey);
                    CheckRangeType(high.Value, rangeKey);
                    range = part;
                    break;
                case FunctionCondition { Function: "begins_with", Arguments: [PathOperand { Path.IsTopLevel: true } p, ValueOperand v] } when p.Path.TopLevelName == rangeKey?.Name && range is null:
                    CheckRangeType(v.Value, rangeKey);
                    range = part;
                    break;
                case OrCondition:
                    throw DynamoDbException.Validation("Invalid operator used in KeyConditionExpression: OR");
                case NotCondition:
                    throw DynamoDbException.Validation("Invalid operator used in KeyConditionExpression: NOT");
                default:
                    throw hash is null && !parts.Any(IsHashCondition)
                        ? DynamoDbException.Validation($"Query condition missed key schema element: {hashKey.Name}")
                        : DynamoDbException.Validation("Query key condition not supported");
            }
        }

        bool IsHashCondition(Condition c) => c is ComparisonCondition { Left: PathOperand { Path.IsTopLevel: true } p } && p.Path.TopLevelName == hashKey.Name;

        return (hash ?? throw DynamoDbException.Validation($"Query condition missed key schema element: {hashKey.Name}"), range);
    }

    private static void CheckRangeType(AttributeValue value, KeyAttribute rangeKey)
    {
        if (Parser.WireTypeName(value.Type) != rangeKey.Type)
        {
            throw DynamoDbException.Validation("One or more parameter values were invalid: Condition parameter type does not match schema type");
        }
    }

    private static IndexDefinition? IndexOf(RequestReader request, TableMetadata table)
    {
        if (request.OptionalString("IndexName") is not { } indexName)
        {
            return null;
        }

        var index = table.FindIndex(indexName) ?? throw DynamoDbException.Validation($"The table does not have the specified index: {indexName}");
        if (index.Global && request.Bool("ConsistentRead"))
        {
            throw DynamoDbException.Validation("Consistent reads are not supported on global secondary indexes");
        }

        return index;
    }

    private static string SelectOf(RequestReader request, IndexDefinition? index, IReadOnlyList<DocumentPath>? projection)
    {
        string fallback = projection is not null ? "SPECIFIC_ATTRIBUTES" : index is null ? "ALL_ATTRIBUTES" : "ALL_PROJECTED_ATTRIBUTES";
        var select = request.Enum("Select", fallback, "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES", "SPECIFIC_ATTRIBUTES", "COUNT");
        if (projection is not null && select != "SPECIFIC_ATTRIBUTES")
        {
            throw DynamoDbException.Validation($"Cannot specify the AttributesToGet or ProjectionExpression when choosing to get {select}");
        }

        if (select == "ALL_PROJECTED_ATTRIBUTES" && index is null)
        {
            throw DynamoDbException.Validation("ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName");
        }

        if (select == "ALL_ATTRIBUTES" && index is { Global: true, ProjectionType: not "ALL" })
        {
            throw DynamoDbException.Validation($"One or more parameter values were invalid: Select type ALL_ATTRIBUTES is not supported for global secondary index {index.IndexName} because its projection type is not ALL");
        }

        return select;
    }

    /// <summary>ExclusiveStartKey as the table's key (and, on an index, the index key), or null.</summary>
    private static Dictionary<string, AttributeValue>? StartKey(RequestReader request, TableMetadata table, IndexDefinition? index)
    {
        if (request.Item("ExclusiveStartKey") is not { } start)
        {
            return null;
        }

        const string invalid = "The provided starting key is invalid: The provided key element does not match the schema";
        var names = KeyAttributes(table, start, index);
        if (names.Count != start.Count)
        {
            throw DynamoDbException.Validation(invalid);
        }

        var tableKey = new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
        foreach (var keyName in table.KeyNames)
        {
            tableKey[keyName] = start.TryGetValue(keyName, out var v) ? v : throw DynamoDbException.Validation(invalid);
        }

        _ = KeyOf(table, tableKey, invalid);
        return start;
    }

    private async IAsyncEnumerable<Candidate> TableItems(string name, byte[]? hashKey, Dictionary<string, AttributeValue>? start, bool descending,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var table = await RequireTableAsync(name, ct);
        ItemKey? after = start is null ? null : KeyOf(table, table.KeyNames.ToDictionary(n => n, n => start[n]));
        while (true)
        {
            ReadOnlyMemory<byte>? hash = hashKey is null ? default(ReadOnlyMemory<byte>?) : hashKey; // a null byte[] would become an empty key
            var batch = await store.ReadItemsAsync(name, hash, after, StoreBatch, descending, ct);
            foreach (var stored in batch)
            {
                yield return new Candidate(Item.Deserialize(stored.Body), stored.Body.Length);
            }

            if (batch.Count < StoreBatch)
            {
                yield break;
            }

            after = batch[^1].Key;
        }
    }

    /// <summary>
    /// Items of a secondary index in index order: items holding the index key attributes (indexes are sparse), with
    /// the given hash value and range condition, ordered by index range key then table key, after the start key.
    /// </summary>
    private async IAsyncEnumerable<Candidate> IndexItems(string name, TableMetadata table, IndexDefinition index, AttributeValue? hashValue, Condition? rangeCondition,
        bool forward, Dictionary<string, AttributeValue>? start, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        var matching = new List<(byte[][] Order, Candidate Candidate)>();
        await foreach (var candidate in TableItems(name, null, null, descending: false, ct))
        {
            var item = candidate.Item;
            if (!item.TryGetValue(index.Hash.Name, out var h) || (index.Range is not null && !item.ContainsKey(index.Range.Name)))
            {
                continue;
            }

            if ((hashValue is not null && !h.Equals(hashValue)) || (rangeCondition is not null && !Evaluator.Evaluate(rangeCondition, item)))
            {
                continue;
            }

            matching.Add((OrderKey(table, index, item, hashValue is null), candidate));
        }

        matching.Sort((a, b) => CompareOrder(a.Order, b.Order));
        if (!forward)
        {
            matching.Reverse();
        }

        byte[][]? after = start is null ? null : OrderKey(table, index, start, hashValue is null);
        foreach (var (order, candidate) in matching)
        {
            if (after is not null)
            {
                int c = CompareOrder(order, after);
                if (forward ? c <= 0 : c >= 0)
                {
                    continue;
                }
            }

            yield return candidate;
        }
    }

    private static byte[][] OrderKey(TableMetadata table, IndexDefinition index, IReadOnlyDictionary<string, AttributeValue> item, bool scan)
    {
        // A scan of an index goes in table key order; a query orders by the index range key first.
        var parts = new List<byte[]>();
        if (!scan && index.Range is not null)
        {
            parts.Add(item.TryGetValue(index.Range.Name, out var r) ? KeyCodec.Encode(r) : []);
        }

        foreach (var keyName in table.KeyNames)
        {
            parts.Add(item.TryGetValue(keyName, out var k) ? KeyCodec.Encode(k) : []);
        }

        return [.. parts];
    }

    private static int CompareOrder(byte[][] a, byte[][] b)
    {
        for (int i = 0; i < Math.Min(a.Length, b.Length); i++)
        {
            int c = a[i].AsSpan().SequenceCompareTo(b[i]);
            if (c != 0)
            {
                return c;
            }
        }

        return a.Length.CompareTo(b.Length);
    }

    private static async Task WritePageAsync(RequestReader request, Utf8JsonWriter writer, TableMetadata table, IndexDefinition? index,
        IAsyncEnumerable<Candidate> source, Condition? filter, IReadOnlyList<DocumentPath>? projection, string select, int? limit, CancellationToken ct)
    {
        var results = new List<Dictionary<string, AttributeValue>>();
        int scanned = 0;
        long bytes = 0;
        Dictionary<string, AttributeValue>? lastKey = null;
        await foreach (var candidate in source.WithCancellation(ct))
        {
            scanned++;
            bytes += candidate.Size;
            var item = index is null ? candidate.Item : IndexProjection(table, index, candidate.Item);
            if (filter is null || Evaluator.Evaluate(filter, item))
            {
                results.Add(item);
            }

            if (scanned == limit || bytes >= PageBytes)
            {
                lastKey = KeyAttributes(table, candidate.Item, index);
                break;
            }
        }

        writer.WriteStartObject();
        if (select != "COUNT")
        {
            writer.WriteStartArray("Items");
            foreach (var item in results)
            {
                Item.WriteJson(writer, projection is null ? item : Evaluator.Project(item, projection));
            }

            writer.WriteEndArray();
        }

        writer.WriteNumber("Count", results.Count);
        writer.WriteNumber("ScannedCount", scanned);
        if (lastKey is not null)
        {
            writer.WritePropertyName("LastEvaluatedKey");
            Item.WriteJson(writer, lastKey);
        }

        WriteConsumedCapacity(request, writer, table.TableName, ReadUnits((int)Math.Min(bytes, int.MaxValue), request.Bool("ConsistentRead")));
        writer.WriteEndObject();
    }

    private static Dictionary<string, AttributeValue> IndexProjection(TableMetadata table, IndexDefinition index, Dictionary<string, AttributeValue> item)
    {
        if (index.ProjectionType == "ALL" || !index.Global)
        {
            return item;
        }

        var projected = KeyAttributes(table, item, index);
        foreach (var attribute in index.NonKeyAttributes ?? [])
        {
            if (item.TryGetValue(attribute, out var v))
            {
                projected[attribute] = v;
            }
        }

        return projected;
    }
}
