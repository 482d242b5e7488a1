using Millrace.DynamoDb.Model;

namespace Millrace.DynamoDb.Expressions;

/// <summary>
/// The ExpressionAttributeNames and ExpressionAttributeValues of one request, shared by all its expressions so that
/// unused entries can be reported the way DynamoDB does once every expression was parsed.
/// </summary>
public sealed class ExpressionContext(IReadOnlyDictionary<string, string>? names, IReadOnlyDictionary<string, AttributeValue>? values)
{
    private readonly HashSet<string> _usedNames = new(StringComparer.Ordinal);
    private readonly HashSet<string> _usedValues = new(StringComparer.Ordinal);

    public static ExpressionContext Empty => new(null, null);

    internal string ResolveName(string placeholder, string expressionKind)
    {
        if (names is null || !names.TryGetValue(placeholder, out var name))
        {
            throw DynamoDbException.Validation($"Invalid {expressionKind}: An expression attribute name used in the document path is not defined; attribute name: {placeholder}");
        }

        _usedNames.Add(placeholder);
        return name;
    }

    internal AttributeValue ResolveValue(string placeholder, string expressionKind)
    {
        if (values is null || !values.TryGetValue(placeholder, out var value))
        {
            throw DynamoDbException.Validation($"Invalid {expressionKind}: An expression attribute value used in expression is not defined; attribute value: {placeholder}");
        }

        _usedValues.Add(placeholder);
        return value;
    }

    /// <summary>DynamoDB rejects requests that define names or values no expression uses.</summary>
    public void ThrowIfUnused()
    {
        if (names is not null)
        {
            var unused = names.Keys.Where(k => !_usedNames.Contains(k)).ToList();
            if (unused.Count > 0)
            {
                throw DynamoDbException.Validation($"Value provided in ExpressionAttributeNames unused in expressions: keys: {{{string.Join(", ", unused)}}}");
            }
        }

        if (values is not null)
        {
            var unused = values.Keys.Where(k => !_usedValues.Contains(k)).ToList();
            if (unused.Count > 0)
            {
                throw DynamoDbException.Validation($"Value provided in ExpressionAttributeValues unused in expressions: keys: {{{string.Join(", ", unused)}}}");
            }
        }
    }
}
