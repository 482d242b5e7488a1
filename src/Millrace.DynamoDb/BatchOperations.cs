using System.Text.Json;
using Millrace.DynamoDb.Expressions;
using Millrace.DynamoDb.Model;
using Millrace.Storage.Tables;

namespace Millrace.DynamoDb;

/// <summary>BatchGetItem (up to 100 keys) and BatchWriteItem (up to 25 puts/deletes). Every request is processed, so
/// UnprocessedKeys and UnprocessedItems are always empty.</summary>
public sealed partial class DynamoDbService
{
    private async Task BatchGetItemAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        if (request.Get("RequestItems") is not { ValueKind: JsonValueKind.Object } requestItems || !requestItems.EnumerateObject().Any())
        {
            throw DynamoDbException.Validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null");
        }

        var plan = new List<(string Table, TableMetadata Meta, List<ItemKey> Keys, IReadOnlyList<DocumentPath>? Projection)>();
        int total = 0;
        foreach (var entry in requestItems.EnumerateObject())
        {
            RequestReader.ValidateName(entry.Name, "requestItems");
            var spec = new RequestReader(entry.Value);
            var context = spec.Expressions(spec.Has("ProjectionExpression"));
            var projection = Projection(spec, context);
            context.ThrowIfUnused();
            var meta = await RequireTableAsync(entry.Name, ct);
            var keys = (spec.Get("Keys") is { ValueKind: JsonValueKind.Array } list ? list.EnumerateArray() : [])
                .Select(k => KeyOf(meta, Item.FromJson(k))).ToList();
            if (keys.Count == 0)
            {
                throw DynamoDbException.Validation("1 validation error detected: Value '[]' at 'requestItems." + entry.Name + ".member.keys' failed to satisfy constraint: Member must have length greater than or equal to 1");
            }

            if (keys.Select(k => Convert.ToHexString(k.HashKey.Span) + "/" + Convert.ToHexString(k.RangeKey.Span)).Distinct().Count() != keys.Count)
            {
                throw DynamoDbException.Validation("Provided list of item keys contains duplicates");
            }

            total += keys.Count;
            plan.Add((entry.Name, meta, keys, projection));
        }

        if (total > 100)
        {
            throw DynamoDbException.Validation("Too many items requested for the BatchGetItem call");
        }

        writer.WriteStartObject();
        writer.WriteStartObject("Responses");
        foreach (var (table, _, keys, projection) in plan)
        {
            writer.WriteStartArray(table);
            foreach (var key in keys)
            {
                if (await store.GetItemAsync(table, key, ct) is { } stored)
                {
                    var item = Item.Deserialize(stored.Body);
                    Item.WriteJson(writer, projection is null ? item : Evaluator.Project(item, projection));
                }
            }

            writer.WriteEndArray();
        }

        writer.WriteEndObject();
        writer.WriteStartObject("UnprocessedKeys");
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    private async Task BatchWriteItemAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        if (request.Get("RequestItems") is not { ValueKind: JsonValueKind.Object } requestItems || !requestItems.EnumerateObject().Any())
        {
            throw DynamoDbException.Validation("1 validation error detected: Value null at 'requestItems' failed to satisfy constraint: Member must not be null");
        }

        // Validate everything first: DynamoDB rejects the whole batch when any request is invalid.
        var writes = new List<(string Table, ItemKey Key, byte[]? Body)>();
        foreach (var entry in requestItems.EnumerateObject())
        {
            RequestReader.ValidateName(entry.Name, "requestItems");
            var meta = await RequireTableAsync(entry.Name, ct);
            foreach (var element in entry.Value.ValueKind == JsonValueKind.Array ? entry.Value.EnumerateArray() : [])
            {
                var write = new RequestReader(element);
                if (write.Get("PutRequest") is { } put)
                {
                    var item = new RequestReader(put).RequiredItem("Item");
                    var key = KeyOfItem(meta, item);
                    CheckStorable(meta, item);
                    writes.Add((entry.Name, key, Item.Serialize(item)));
                }
                else if (write.Get("DeleteRequest") is { } delete)
                {
                    writes.Add((entry.Name, KeyOf(meta, new RequestReader(delete).RequiredItem("Key")), null));
                }
                else
                {
                    throw DynamoDbException.Validation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes");
                }
            }
        }

        if (writes.Count > 25)
        {
            throw DynamoDbException.Validation("1 validation error detected: Value at 'requestItems' failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than or equal to 25, Member must have length greater than or equal to 1]");
        }

        if (writes.GroupBy(w => (w.Table, Convert.ToHexString(w.Key.HashKey.Span), Convert.ToHexString(w.Key.RangeKey.Span))).Any(g => g.Count() > 1))
        {
            throw DynamoDbException.Validation("Provided list of item keys contains duplicates");
        }

        foreach (var (table, key, body) in writes)
        {
            await store.MutateItemAsync(table, key, _ => body is null ? ItemMutation.Delete : ItemMutation.Put(body), ct);
        }

        writer.WriteStartObject();
        writer.WriteStartObject("UnprocessedItems");
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
