using System.Text.Json;
using Millrace.DynamoDb.Expressions;
using Millrace.DynamoDb.Model;
using Millrace.Storage.Tables;

namespace Millrace.DynamoDb;

/// <summary>GetItem, PutItem, UpdateItem and DeleteItem. Conditions are evaluated inside the store's atomic
/// read-modify-write, so a conditional write and its check cannot be split by another write.</summary>
public sealed partial class DynamoDbService
{
    private static readonly string[] LegacyConditionParameters = ["Expected", "ConditionalOperator"];

    private async Task GetItemAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        string name = request.TableName();
        request.RejectMixed(["AttributesToGet"], ["ProjectionExpression"]);
        var context = request.Expressions(request.Has("ProjectionExpression"));
        var projection = Projection(request, context);
        context.ThrowIfUnused();
        var table = await RequireTableAsync(name, ct);
        var key = KeyOf(table, request.RequiredItem("Key"));
        bool consistent = request.Bool("ConsistentRead");
        var stored = await store.GetItemAsync(name, key, ct);
        writer.WriteStartObject();
        if (stored is not null)
        {
            var item = Item.Deserialize(stored.Body);
            writer.WritePropertyName("Item");
            Item.WriteJson(writer, projection is null ? item : Evaluator.Project(item, projection));
        }

        WriteConsumedCapacity(request, writer, name, ReadUnits(stored?.Body.Length ?? 0, consistent));
        writer.WriteEndObject();
    }

    private static IReadOnlyList<DocumentPath>? Projection(RequestReader request, ExpressionContext context)
    {
        if (request.OptionalString("ProjectionExpression") is { } text)
        {
            return Parser.ParseProjection(text, context);
        }

        if (request.Get("AttributesToGet") is { ValueKind: JsonValueKind.Array } names)
        {
            return names.EnumerateArray().Select(n => new DocumentPath([new NameElement(n.GetString() ?? "")])).ToList();
        }

        return null;
    }

    /// <summary>ConditionExpression, or the legacy Expected map, or null.</summary>
    private static Condition? WriteCondition(RequestReader request, ExpressionContext context)
    {
        if (request.OptionalString("ConditionExpression") is { } text)
        {
            return Parser.ParseCondition(text, "ConditionExpression", context);
        }

        return Legacy.FromConditions(request.Get("Expected"), request.OptionalString("ConditionalOperator"), "Expected");
    }

    private static DynamoDbException ConditionFailed(RequestReader request, IReadOnlyDictionary<string, AttributeValue>? existing)
    {
        var ex = DynamoDbException.ConditionalCheckFailed();
        if (existing is not null && request.Enum("ReturnValuesOnConditionCheckFailure", "NONE", "ALL_OLD", "NONE") == "ALL_OLD")
        {
            ex.Data["Item"] = existing;
        }

        return ex;
    }

    private async Task PutItemAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        string name = request.TableName();
        var item = request.RequiredItem("Item");
        request.RejectMixed(LegacyConditionParameters, ["ConditionExpression"]);
        var context = request.Expressions(request.Has("ConditionExpression"));
        var condition = WriteCondition(request, context);
        context.ThrowIfUnused();
        var returnValues = request.OptionalString("ReturnValues") ?? "NONE";
        if (returnValues is not ("NONE" or "ALL_OLD"))
        {
            throw DynamoDbException.Validation(returnValues is "ALL_NEW" or "UPDATED_OLD" or "UPDATED_NEW"
                ? "ReturnValues can only be ALL_OLD or NONE"
                : $"1 validation error detected: Value '{returnValues}' at 'returnValues' failed to satisfy constraint: Member must satisfy enum value set: [ALL_NEW, UPDATED_OLD, ALL_OLD, NONE, UPDATED_NEW]");
        }

        var table = await RequireTableAsync(name, ct);
        var key = KeyOfItem(table, item);
        CheckStorable(table, item);
        var body = Item.Serialize(item);
        var before = await store.MutateItemAsync(name, key, existing =>
        {
            if (condition is not null)
            {
                var old = existing is { } e ? Item.Deserialize(e) : null;
                if (!Evaluator.Evaluate(condition, old ?? Empty))
                {
                    throw ConditionFailed(request, old);
                }
            }

            return ItemMutation.Put(body);
        }, ct);

        writer.WriteStartObject();
        if (returnValues == "ALL_OLD" && before is { } previous)
        {
            writer.WritePropertyName("Attributes");
            Item.WriteJson(writer, Item.Deserialize(previous));
        }

        WriteConsumedCapacity(request, writer, name, WriteUnits(body.Length));
        writer.WriteEndObject();
    }

    private static readonly Dictionary<string, AttributeValue> Empty = new(StringComparer.Ordinal);

    private async Task UpdateItemAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        string name = request.TableName();
        request.RejectMixed(["Expected", "ConditionalOperator", "AttributeUpdates"], ["ConditionExpression", "UpdateExpression"]);
        var context = request.Expressions(request.Has("ConditionExpression") || request.Has("UpdateExpression"));
        var update = request.OptionalString("UpdateExpression") is { } text
            ? Parser.ParseUpdate(text, context)
            : Legacy.FromAttributeUpdates(request.Get("AttributeUpdates"));
        var condition = WriteCondition(request, context);
        context.ThrowIfUnused();
        var returnValues = request.Enum("ReturnValues", "NONE", "NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW");

        var table = await RequireTableAsync(name, ct);
        var keyAttributes = request.RequiredItem("Key");
        var key = KeyOf(table, keyAttributes);
        if (update is not null)
        {
            foreach (var action in update.Actions)
            {
                if (table.KeyNames.Contains(action.Path.TopLevelName))
                {
                    throw DynamoDbException.Validation($"One or more parameter values were invalid: Cannot update attribute {action.Path.TopLevelName}. This attribute is part of the key");
                }
            }
        }

        Dictionary<string, AttributeValue>? oldItem = null;
        Dictionary<string, AttributeValue>? newItem = null;
        int size = 0;
        await store.MutateItemAsync(name, key, existing =>
        {
            oldItem = existing is { } e ? Item.Deserialize(e) : null;
            if (condition is not null && !Evaluator.Evaluate(condition, oldItem ?? Empty))
            {
                throw ConditionFailed(request, oldItem);
            }

            var updated = update is null
                ? new Dictionary<string, AttributeValue>(oldItem ?? Empty, StringComparer.Ordinal)
                : Evaluator.ApplyUpdate(update, oldItem ?? Empty);
            foreach (var (k, v) in keyAttributes)
            {
                updated[k] = v;
            }

            CheckStorable(table, updated);
            newItem = updated;
            var body = Item.Serialize(updated);
            size = body.Length;
            return ItemMutation.Put(body);
        }, ct);

        writer.WriteStartObject();
        var paths = update?.Actions.Select(a => a.Path).ToList() ?? [];
        IReadOnlyDictionary<string, AttributeValue>? attributes = returnValues switch
        {
            "ALL_OLD" => oldItem,
            "ALL_NEW" => newItem,
            "UPDATED_OLD" => oldItem is null ? null : Evaluator.Project(oldItem, paths),
            "UPDATED_NEW" => Evaluator.Project(newItem!, paths),
            _ => null,
        };
        if (attributes is { Count: > 0 })
        {
            writer.WritePropertyName("Attributes");
            Item.WriteJson(writer, attributes);
        }

        WriteConsumedCapacity(request, writer, name, WriteUnits(size));
        writer.WriteEndObject();
    }

    private async Task DeleteItemAsync(RequestReader request, Utf8JsonWriter writer, CancellationToken ct)
    {
        string name = request.TableName();
        request.RejectMixed(LegacyConditionParameters, ["ConditionExpression"]);
        var context = request.Expressions(request.Has("ConditionExpression"));
        var condition = WriteCondition(request, context);
        context.ThrowIfUnused();
        var returnValues = request.OptionalString("ReturnValues") ?? "NONE";
        if (returnValues is not ("NONE" or "ALL_OLD"))
        {
            throw DynamoDbException.Validation("ReturnValues can only be ALL_OLD or NONE");
        }

        var table = await RequireTableAsync(name, ct);
        var key = KeyOf(table, request.RequiredItem("Key"));
        var before = await store.MutateItemAsync(name, key, existing =>
        {
            if (condition is not null)
            {
                var old = existing is { } e ? Item.Deserialize(e) : null;
                if (!Evaluator.Evaluate(condition, old ?? Empty))
                {
                    throw ConditionFailed(request, old);
                }
            }

            return ItemMutation.Delete;
        }, ct);

        writer.WriteStartObject();
        if (returnValues == "ALL_OLD" && before is { } previous)
        {
            writer.WritePropertyName("Attributes");
            Item.WriteJson(writer, Item.Deserialize(previous));
        }

        WriteConsumedCapacity(request, writer, name, WriteUnits(before?.Length ?? 0));
        writer.WriteEndObject();
    }
}
