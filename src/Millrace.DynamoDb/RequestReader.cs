using System.Text.Json;
using Millrace.DynamoDb.Expressions;
using Millrace.DynamoDb.Model;

namespace Millrace.DynamoDb;

/// <summary>Typed access to a request's members with DynamoDB's validation messages.</summary>
internal readonly struct RequestReader(JsonElement root)
{
    public JsonElement Root => root;

    public bool Has(string name) => root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null;

    public JsonElement? Get(string name) => root.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    /// <summary>The member name as AWS spells it in "at '…'" of validation messages (lower camel case).</summary>
    private static string Path(string name) => char.ToLowerInvariant(name[0]) + name[1..];

    public string? OptionalString(string name) => Get(name) is { } v
        ? v.ValueKind == JsonValueKind.String ? v.GetString() : throw DynamoDbException.Serialization("NUMBER_VALUE cannot be converted to String")
        : null;

    public string RequiredString(string name) => OptionalString(name)
        ?? throw DynamoDbException.Validation($"1 validation error detected: Value null at '{Path(name)}' failed to satisfy constraint: Member must not be null");

    public string TableName(string member = "TableName")
    {
        var name = RequiredString(member);
        ValidateName(name, Path(member));
        return name;
    }

    public static void ValidateName(string name, string path)
    {
        if (name.Length < 3)
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{name}' at '{path}' failed to satisfy constraint: Member must have length greater than or equal to 3");
        }

        if (name.Length > 255)
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{name}' at '{path}' failed to satisfy constraint: Member must have length less than or equal to 255");
        }

        if (!name.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.'))
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{name}' at '{path}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+");
        }
    }

    public bool Bool(string name) => Get(name) is { } v && v.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw DynamoDbException.Serialization("NUMBER_VALUE cannot be converted to Boolean"),
    };

    public int? Int(string name, int min, int max)
    {
        if (Get(name) is not { } v)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long n))
        {
            throw DynamoDbException.Serialization("STRING_VALUE cannot be converted to Integer");
        }

        if (n < min)
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{n}' at '{Path(name)}' failed to satisfy constraint: Member must have value greater than or equal to {min}");
        }

        if (n > max)
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{n}' at '{Path(name)}' failed to satisfy constraint: Member must have value less than or equal to {max}");
        }

        return (int)n;
    }

    public string Enum(string name, string fallback, params string[] allowed)
    {
        var value = OptionalString(name) ?? fallback;
        if (!allowed.Contains(value))
        {
            throw DynamoDbException.Validation($"1 validation error detected: Value '{value}' at '{Path(name)}' failed to satisfy constraint: Member must satisfy enum value set: [{string.Join(", ", allowed)}]");
        }

        return value;
    }

    public Dictionary<string, AttributeValue>? Item(string name) => Get(name) is { } v ? Model.Item.FromJson(v) : null;

    public Dictionary<string, AttributeValue> RequiredItem(string name) => Item(name)
        ?? throw DynamoDbException.Validation($"1 validation error detected: Value null at '{Path(name)}' failed to satisfy constraint: Member must not be null");

    /// <summary>ExpressionAttributeNames and ExpressionAttributeValues, with DynamoDB's checks on them.</summary>
    public ExpressionContext Expressions(bool anyExpression)
    {
        Dictionary<string, string>? names = null;
        Dictionary<string, AttributeValue>? values = null;
        if (Get("ExpressionAttributeNames") is { } n)
        {
            if (n.ValueKind != JsonValueKind.Object)
            {
                throw DynamoDbException.Serialization();
            }

            names = n.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString() ?? "", StringComparer.Ordinal);
            if (!anyExpression)
            {
                throw DynamoDbException.Validation("ExpressionAttributeNames can only be specified when using expressions");
            }

            if (names.Count == 0)
            {
                throw DynamoDbException.Validation("ExpressionAttributeNames must not be empty");
            }

            foreach (var key in names.Keys)
            {
                if (key.Length < 2 || key[0] != '#')
                {
                    throw DynamoDbException.Validation($"ExpressionAttributeNames contains invalid key: Syntax error; key: \"{key}\"");
                }
            }
        }

        if (Get("ExpressionAttributeValues") is { } v)
        {
            values = Model.Item.FromJson(v);
            if (!anyExpression)
            {
                throw DynamoDbException.Validation("ExpressionAttributeValues can only be specified when using expressions");
            }

            if (values.Count == 0)
            {
                throw DynamoDbException.Validation("ExpressionAttributeValues must not be empty");
            }

            foreach (var key in values.Keys)
            {
                if (key.Length < 2 || key[0] != ':')
                {
                    throw DynamoDbException.Validation($"ExpressionAttributeValues contains invalid key: Syntax error; key: \"{key}\"");
                }
            }
        }

        return new ExpressionContext(names, values);
    }

    /// <summary>DynamoDB refuses a request that mixes the legacy parameters with expressions.</summary>
    public void RejectMixed(string[] legacy, string[] expressions)
    {
        var root = this;
        var usedLegacy = legacy.Where(root.Has).ToList();
        var usedExpressions = expressions.Where(root.Has).ToList();
        if (usedLegacy.Count > 0 && usedExpressions.Count > 0)
        {
            throw DynamoDbException.Validation(
                $"Can not use both expression and non-expression parameters in the same request: Non-expression parameters: {{{string.Join(", ", usedLegacy)}}} Expression parameters: {{{string.Join(", ", usedExpressions)}}}");
        }
    }
}
