using System.Text.Json;
using Millrace.DynamoDb.Expressions;
using Millrace.DynamoDb.Model;

namespace Millrace.DynamoDb;

/// <summary>
/// The pre-expression parameters (Expected, AttributeUpdates, KeyConditions, QueryFilter, ScanFilter), translated
/// into the same expression trees. The Java KCL writes its leases with Expected and AttributeUpdates.
/// </summary>
internal static class Legacy
{
    private static DocumentPath Path(string name) => new([new NameElement(name)]);

    private static ValueOperand Value(AttributeValue value) => new("", value);

    /// <summary>Expected (Value/Exists or ComparisonOperator/AttributeValueList per attribute), QueryFilter, ScanFilter, KeyConditions.</summary>
    public static Condition? FromConditions(JsonElement? map, string? conditionalOperator, string member)
    {
        if (map is not { ValueKind: JsonValueKind.Object } conditions)
        {
            return null;
        }

        if (conditionalOperator is not (null or "AND" or "OR"))
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{conditionalOperator}' at 'conditionalOperator' failed to satisfy constraint: Member must satisfy enum value set: [OR, AND]");
        }

        Condition? result = null;
        foreach (var property in conditions.EnumerateObject())
        {
            var spec = new RequestReader(property.Value);
            var condition = member == "Expected" && !spec.Has("ComparisonOperator") ? FromValueExists(property.Name, spec) : FromComparison(property.Name, spec);
            result = result is null ? condition : conditionalOperator == "OR" ? new OrCondition(result, condition) : new AndCondition(result, condition);
        }

        return result;
    }

    private static Condition FromValueExists(string name, RequestReader spec)
    {
        bool exists = !spec.Has("Exists") || spec.Bool("Exists");
        var value = spec.Get("Value") is { } v ? AttributeValue.FromJson(v) : null;
        if (!exists)
        {
            return value is null
                ? new FunctionCondition("attribute_not_exists", [new PathOperand(Path(name))])
                : throw DynamoDbException.Validation($"One or more parameter values were invalid: Value cannot be used when Exists is false for Attribute: {name}");
        }

        return value is null
            ? throw DynamoDbException.Validation($"One or more parameter values were invalid: Value must be provided when Exists is {(spec.Has("Exists") ? "true" : "null")} for Attribute: {name}")
            : new ComparisonCondition(new PathOperand(Path(name)), "=", Value(value));
    }

    private static Condition FromComparison(string name, RequestReader spec)
    {
        var op = spec.RequiredString("ComparisonOperator");
        var values = spec.Get("AttributeValueList") is { ValueKind: JsonValueKind.Array } list
            ? list.EnumerateArray().Select(AttributeValue.FromJson).ToList()
            : [];
        var path = new PathOperand(Path(name));
        int expected = op switch
        {
            "NULL" or "NOT_NULL" => 0,
            "BETWEEN" => 2,
            "IN" => -1,
            _ => 1,
        };
        if ((expected >= 0 && values.Count != expected) || (expected < 0 && values.Count == 0))
        {
            throw DynamoDbException.Validation($"One or more parameter values were invalid: Invalid number of argument(s) for the {op} ComparisonOperator");
        }

        return op switch
        {
            "EQ" => new ComparisonCondition(path, "=", Value(values[0])),
            "NE" => new ComparisonCondition(path, "<>", Value(values[0])),
            "LT" => new ComparisonCondition(path, "<", Value(values[0])),
            "LE" => new ComparisonCondition(path, "<=", Value(values[0])),
            "GT" => new ComparisonCondition(path, ">", Value(values[0])),
            "GE" => new ComparisonCondition(path, ">=", Value(values[0])),
            "NOT_NULL" => new FunctionCondition("attribute_exists", [path]),
            "NULL" => new FunctionCondition("attribute_not_exists", [path]),
            "CONTAINS" => new FunctionCondition("contains", [path, Value(values[0])]),
            "NOT_CONTAINS" => new AndCondition(new FunctionCondition("attribute_exists", [path]), new NotCondition(new FunctionCondition("contains", [path, Value(values[0])]))),
            "BEGINS_WITH" => new FunctionCondition("begins_with", [path, Value(values[0])]),
            "IN" => new InCondition(path, values.Select(v => (Operand)Value(v)).ToList()),
            "BETWEEN" => new BetweenCondition(path, Value(values[0]), Value(values[1])),
            _ => throw DynamoDbException.Validation($"1 validation error detected: Value '{op}' at 'comparisonOperator' failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]"),
        };
    }

    /// <summary>AttributeUpdates: PUT (default), DELETE (whole attribute, or elements of a set) and ADD per attribute.</summary>
    public static UpdateExpression? FromAttributeUpdates(JsonElement? map)
    {
        if (map is not { ValueKind: JsonValueKind.Object } updates)
        {
            return null;
        }

        var actions = new List<UpdateAction>();
        foreach (var property in updates.EnumerateObject())
        {
            var spec = new RequestReader(property.Value);
            var action = spec.OptionalString("Action") ?? "PUT";
            var value = spec.Get("Value") is { } v ? AttributeValue.FromJson(v) : null;
            var path = Path(property.Name);
            actions.Add(action switch
            {
                "PUT" => value is null
                    ? throw DynamoDbException.Validation($"One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is specified: {property.Name}")
                    : new UpdateAction(UpdateActionKind.Set, path, Value(value)),
                "DELETE" when value is null => new UpdateAction(UpdateActionKind.Remove, path, null),
                "DELETE" => value.IsSet
                    ? new UpdateAction(UpdateActionKind.Delete, path, Value(value))
                    : throw DynamoDbException.Validation("One or more parameter values were invalid: DELETE action with value is not supported for the type " + Parser.WireTypeName(value.Type)),
                "ADD" when value is { Type: AttributeType.L } =>
                    new UpdateAction(UpdateActionKind.Set, path, new ListAppendOperand(new IfNotExistsOperand(path, Value(AttributeValue.FromL([]))), Value(value))),
                "ADD" => value is { Type: AttributeType.N } || value is { IsSet: true }
                    ? new UpdateAction(UpdateActionKind.Add, path, Value(value))
                    : throw DynamoDbException.Validation("One or more parameter values were invalid: ADD action is not supported for the type " + (value is null ? "null" : Parser.WireTypeName(value.Type))),
                _ => throw DynamoDbException.Validation($"1 validation error detected: Value '{action}' at 'attributeUpdates.{property.Name}.member.action' failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]"),
            });
        }

        return actions.Count == 0 ? null : new UpdateExpression(actions);
    }
}
