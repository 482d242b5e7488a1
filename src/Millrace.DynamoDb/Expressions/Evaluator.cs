using System.Globalization;
using System.Text;
using Millrace.DynamoDb.Model;

namespace Millrace.DynamoDb.Expressions;

/// <summary>
/// Evaluates parsed expressions against items. An item is a name → value map; a missing path evaluates to
/// "nothing", which makes every comparison false except <c>&lt;&gt;</c>, as in DynamoDB.
/// </summary>
public static class Evaluator
{
    public static bool Evaluate(Condition condition, IReadOnlyDictionary<string, AttributeValue> item) => condition switch
    {
        AndCondition and => Evaluate(and.Left, item) && Evaluate(and.Right, item),
        OrCondition or => Evaluate(or.Left, item) || Evaluate(or.Right, item),
        NotCondition not => !Evaluate(not.Inner, item),
        ComparisonCondition c => Compare(Value(c.Left, item), c.Comparator, Value(c.Right, item)),
        BetweenCondition b => Between(Value(b.Value, item), Value(b.Low, item), Value(b.High, item)),
        InCondition i => Value(i.Value, item) is { } v && i.Candidates.Any(c => Value(c, item) is { } candidate && v.Equals(candidate)),
        FunctionCondition f => Function(f, item),
        _ => false,
    };

    private static bool Between(AttributeValue? value, AttributeValue? low, AttributeValue? high)
    {
        if (low is not null && high is not null && low.Type == high.Type && Order(low, high) is > 0)
        {
            throw DynamoDbException.Validation($"Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; lower bound operand: AttributeValue: {{{Describe(low)}}}, upper bound operand: AttributeValue: {{{Describe(high)}}}");
        }

        return Compare(value, ">=", low) && Compare(value, "<=", high);
    }

    private static string Describe(AttributeValue v) => v.Type switch
    {
        AttributeType.S => "S:" + v.S,
        AttributeType.N => "N:" + v.N,
        _ => v.Type + ":" + v,
    };

    private static bool Function(FunctionCondition f, IReadOnlyDictionary<string, AttributeValue> item)
    {
        var path = ((PathOperand)f.Arguments[0]).Path;
        var target = Resolve(path, item);
        switch (f.Function)
        {
            case "attribute_exists":
                return target is not null;
            case "attribute_not_exists":
                return target is null;
            case "attribute_type":
                return target is not null && Value(f.Arguments[1], item) is { Type: AttributeType.S } type && Parser.WireTypeName(target.Type) == type.S;
            case "begins_with":
            {
                var prefix = Value(f.Arguments[1], item);
                return (target, prefix) switch
                {
                    ({ Type: AttributeType.S }, { Type: AttributeType.S }) => target.S.StartsWith(prefix.S, StringComparison.Ordinal),
                    ({ Type: AttributeType.B }, { Type: AttributeType.B }) => target.B.AsSpan().StartsWith(prefix.B),
                    _ => false,
                };
            }

            case "contains":
            {
                var operand = Value(f.Arguments[1], item);
                if (target is null || operand is null)
                {
                    return false;
                }

                return target.Type switch
                {
                    AttributeType.S => operand.Type == AttributeType.S && target.S.Contains(operand.S, StringComparison.Ordinal),
                    AttributeType.B => operand.Type == AttributeType.B && target.B.AsSpan().IndexOf(operand.B) >= 0,
                    AttributeType.SS or AttributeType.NS or AttributeType.BS => target.SetElements().Any(e => e.Equals(operand)),
                    AttributeType.L => target.L.Any(e => e.Equals(operand)),
                    _ => false,
                };
            }

            default:
                return false;
        }
    }

    private static bool Compare(AttributeValue? left, string comparator, AttributeValue? right)
    {
        if (left is null || right is null)
        {
            return comparator == "<>" && !(left is null && right is null);
        }

        switch (comparator)
        {
            case "=":
                return left.Equals(right);
            case "<>":
                return !left.Equals(right);
            default:
                if (Order(left, right) is not { } order)
                {
                    return false;
                }

                return comparator switch
                {
                    "<" => order < 0,
                    "<=" => order <= 0,
                    ">" => order > 0,
                    _ => order >= 0,
                };
        }
    }

    /// <summary>Ordering of two scalars of the same orderable type (N numerically, S and B by bytes); null otherwise.</summary>
    public static int? Order(AttributeValue left, AttributeValue right)
    {
        if (left.Type != right.Type)
        {
            return null;
        }

        return left.Type switch
        {
            AttributeType.N => left.N.CompareTo(right.N),
            AttributeType.S => CompareUtf8(left.S, right.S),
            AttributeType.B => left.B.AsSpan().SequenceCompareTo(right.B),
            _ => null,
        };
    }

    private static int CompareUtf8(string a, string b) => Encoding.UTF8.GetBytes(a).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(b));

    /// <summary>The value of an operand in a condition; null for a missing path.</summary>
    public static AttributeValue? Value(Operand operand, IReadOnlyDictionary<string, AttributeValue> item) => operand switch
    {
        ValueOperand v => v.Value,
        PathOperand p => Resolve(p.Path, item),
        SizeOperand s => Resolve(s.Path, item) is { } target ? Size(target) : null,
        _ => null,
    };

    private static AttributeValue? Size(AttributeValue value)
    {
        int? size = value.Type switch
        {
            AttributeType.S => new StringInfo(value.S).LengthInTextElements,
            AttributeType.B => value.B.Length,
            AttributeType.SS or AttributeType.NS or AttributeType.BS => value.SetCount,
            AttributeType.L => value.L.Count,
            AttributeType.M => value.M.Count,
            _ => null,
        };
        return size is { } n ? AttributeValue.FromN(DynamoNumber.FromLong(n)) : null;
    }

    /// <summary>The value at a document path, or null when any step is missing or of the wrong type.</summary>
    public static AttributeValue? Resolve(DocumentPath path, IReadOnlyDictionary<string, AttributeValue> item)
    {
        if (!item.TryGetValue(path.TopLevelName, out var current))
        {
            return null;
        }

        for (int i = 1; i < path.Elements.Count; i++)
        {
            switch (path.Elements[i])
            {
                case NameElement n when current.Type == AttributeType.M && current.M.TryGetValue(n.Name, out var child):
                    current = child;
                    break;
                case IndexElement x when current.Type == AttributeType.L && x.Index < current.L.Count:
                    current = current.L[x.Index];
                    break;
                default:
                    return null;
            }
        }

        return current;
    }

    // ---- updates ----

    /// <summary>
    /// Applies an UpdateExpression to a copy of <paramref name="item"/>. All operands read the item as it was before the
    /// update, as DynamoDB does. Returns the new item.
    /// </summary>
    public static Dictionary<string, AttributeValue> ApplyUpdate(UpdateExpression update, IReadOnlyDictionary<string, AttributeValue> item)
    {
        var result = new Dictionary<string, AttributeValue>(item, StringComparer.Ordinal);
        var values = update.Actions.Select(a => a.Kind == UpdateActionKind.Set ? UpdateValue(a.Value!, item) : null).ToList();

        // List elements removed by index go last-first so that earlier indexes still name the original elements.
        var order = Enumerable.Range(0, update.Actions.Count)
            .OrderBy(i => update.Actions[i].Kind == UpdateActionKind.Remove ? 1 : 0)
            .ThenByDescending(i => update.Actions[i] is { Kind: UpdateActionKind.Remove, Path.Elements: var e } && e[^1] is IndexElement x ? x.Index : -1)
            .ToList();
        foreach (int i in order)
        {
            var action = update.Actions[i];
            switch (action.Kind)
            {
                case UpdateActionKind.Set:
                    SetPath(result, action.Path, values[i]!);
                    break;
                case UpdateActionKind.Remove:
                    RemovePath(result, action.Path);
                    break;
                case UpdateActionKind.Add:
                {
                    var operand = ((ValueOperand)action.Value!).Value;
                    var existing = Resolve(action.Path, item);
                    AttributeValue added;
                    if (existing is null)
                    {
                        added = operand;
                    }
                    else if (existing.Type == AttributeType.N && operand.Type == AttributeType.N)
                    {
                        added = AttributeValue.FromN((existing.N + operand.N).Checked());
                    }
                    else if (existing.IsSet && existing.Type == operand.Type)
                    {
                        added = AttributeValue.SetOf(existing.Type, existing.SetElements().Concat(operand.SetElements().Where(e => !existing.SetElements().Contains(e))));
                    }
                    else
                    {
                        throw IncorrectDataType();
                    }

                    SetPath(result, action.Path, added);
                    break;
                }

                case UpdateActionKind.Delete:
                {
                    var operand = ((ValueOperand)action.Value!).Value;
                    var existing = Resolve(action.Path, item);
                    if (existing is null)
                    {
                        break;
                    }

                    if (existing.Type != operand.Type)
                    {
                        throw IncorrectDataType();
                    }

                    var remaining = existing.SetElements().Where(e => !operand.SetElements().Contains(e)).ToList();
                    if (remaining.Count == 0)
                    {
                        RemovePath(result, action.Path);
                    }
                    else
                    {
                        SetPath(result, action.Path, AttributeValue.SetOf(existing.Type, remaining));
                    }

                    break;
                }

                default:
                    break;
            }
        }

        return result;
    }

    private static DynamoDbException IncorrectDataType() => DynamoDbException.Validation("An operand in the update expression has an incorrect data type");

    private static AttributeValue UpdateValue(Operand operand, IReadOnlyDictionary<string, AttributeValue> item)
    {
        switch (operand)
        {
            case ValueOperand v:
                return v.Value;
            case PathOperand p:
                return Resolve(p.Path, item) ?? throw DynamoDbException.Validation("The provided expression refers to an attribute that does not exist in the item");
            case IfNotExistsOperand i:
                return Resolve(i.Path, item) ?? UpdateValue(i.Fallback, item);
            case ListAppendOperand l:
            {
                var first = UpdateValue(l.First, item);
                var second = UpdateValue(l.Second, item);
                if (first.Type != AttributeType.L || second.Type != AttributeType.L)
                {
                    throw IncorrectDataType();
                }

                return AttributeValue.FromL(first.L.Concat(second.L));
            }

            case ArithmeticOperand a:
            {
                var left = UpdateValue(a.Left, item);
                var right = UpdateValue(a.Right, item);
                if (left.Type != AttributeType.N || right.Type != AttributeType.N)
                {
                    throw IncorrectDataType();
                }

                return AttributeValue.FromN((a.Operator == '+' ? left.N + right.N : left.N - right.N).Checked());
            }

            default:
                throw IncorrectDataType();
        }
    }

    private static DynamoDbException InvalidPath() => DynamoDbException.Validation("The document path provided in the update expression is invalid for update");

    private static void SetPath(Dictionary<string, AttributeValue> item, DocumentPath path, AttributeValue value)
    {
        if (path.IsTopLevel)
        {
            item[path.TopLevelName] = value;
            return;
        }

        if (!item.TryGetValue(path.TopLevelName, out var root))
        {
            throw InvalidPath();
        }

        item[path.TopLevelName] = With(root, path.Elements, 1, value);
    }

    /// <summary>A copy of <paramref name="container"/> with the value at elements[index..] replaced (null removes it).</summary>
    private static AttributeValue With(AttributeValue container, IReadOnlyList<PathElement> elements, int index, AttributeValue? value)
    {
        bool last = index == elements.Count - 1;
        switch (elements[index])
        {
            case NameElement n when container.Type == AttributeType.M:
            {
                var map = new Dictionary<string, AttributeValue>(container.M, StringComparer.Ordinal);
                if (last)
                {
                    if (value is null)
                    {
                        map.Remove(n.Name);
                    }
                    else
                    {
                        map[n.Name] = value;
                    }
                }
                else
                {
                    if (!map.TryGetValue(n.Name, out var child))
                    {
                        if (value is null)
                        {
                            return container;
                        }

                        throw InvalidPath();
                    }

                    map[n.Name] = With(child, elements, index + 1, value);
                }

                return AttributeValue.FromM(map);
            }

            case IndexElement x when container.Type == AttributeType.L:
            {
                var list = container.L.ToList();
                if (last)
                {
                    if (value is null)
                    {
                        if (x.Index < list.Count)
                        {
                            list.RemoveAt(x.Index);
                        }
                    }
                    else if (x.Index < list.Count)
                    {
                        list[x.Index] = value;
                    }
                    else
                    {
                        list.Add(value); // past the end appends, as DynamoDB does
                    }
                }
                else
                {
                    if (x.Index >= list.Count)
                    {
                        if (value is null)
                        {
                            return container;
                        }

                        throw InvalidPath();
                    }

                    list[x.Index] = With(list[x.Index], elements, index + 1, value);
                }

                return AttributeValue.FromL(list);
            }

            default:
                if (value is null)
                {
                    return container;
                }

                throw InvalidPath();
        }
    }

    private static void RemovePath(Dictionary<string, AttributeValue> item, DocumentPath path)
    {
        if (path.IsTopLevel)
        {
            item.Remove(path.TopLevelName);
            return;
        }

        if (item.TryGetValue(path.TopLevelName, out var root))
        {
            item[path.TopLevelName] = With(root, path.Elements, 1, null);
        }
    }

    // ---- projections ----

    /// <summary>The item reduced to the given paths (nested maps keep their shape; list elements are compacted).</summary>
    public static Dictionary<string, AttributeValue> Project(IReadOnlyDictionary<string, AttributeValue> item, IReadOnlyList<DocumentPath> paths)
    {
        var result = new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            if (Resolve(path, item) is not { } value)
            {
                continue;
            }

            if (path.IsTopLevel)
            {
                result[path.TopLevelName] = value;
                continue;
            }

            result[path.TopLevelName] = Merge(result.GetValueOrDefault(path.TopLevelName), path.Elements, 1, value);
        }

        return result;
    }

    private static AttributeValue Merge(AttributeValue? existing, IReadOnlyList<PathElement> elements, int index, AttributeValue value)
    {
        if (index == elements.Count)
        {
            return value;
        }

        if (elements[index] is NameElement n)
        {
            var map = existing is { Type: AttributeType.M } m ? new Dictionary<string, AttributeValue>(m.M, StringComparer.Ordinal) : new Dictionary<string, AttributeValue>(StringComparer.Ordinal);
            map[n.Name] = Merge(map.GetValueOrDefault(n.Name), elements, index + 1, value);
            return AttributeValue.FromM(map);
        }

        var list = existing is { Type: AttributeType.L } l ? l.L.ToList() : [];
        list.Add(Merge(null, elements, index + 1, value));
        return AttributeValue.FromL(list);
    }
}
