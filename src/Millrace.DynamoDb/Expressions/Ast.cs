using System.Text;
using Millrace.DynamoDb.Model;

namespace Millrace.DynamoDb.Expressions;

/// <summary>One step of a document path: an attribute name or a list index.</summary>
public abstract record PathElement;

public sealed record NameElement(string Name) : PathElement;

public sealed record IndexElement(int Index) : PathElement;

/// <summary>A document path such as <c>a.b[2].c</c>, with #names already resolved. The first element is a name.</summary>
public sealed record DocumentPath(IReadOnlyList<PathElement> Elements)
{
    public string TopLevelName => ((NameElement)Elements[0]).Name;

    public bool IsTopLevel => Elements.Count == 1;

    /// <summary>True when one path is a prefix of (or equal to) the other.</summary>
    public bool Overlaps(DocumentPath other)
    {
        int n = Math.Min(Elements.Count, other.Elements.Count);
        for (int i = 0; i < n; i++)
        {
            if (!Elements[i].Equals(other.Elements[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The form DynamoDB's messages print: [a, b, [2]].</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < Elements.Count; i++)
        {
            sb.Append(i == 0 ? "" : ", ").Append(Elements[i] switch
            {
                NameElement n => n.Name,
                IndexElement x => $"[{x.Index}]",
                _ => "",
            });
        }

        return sb.Append(']').ToString();
    }
}

/// <summary>Something that evaluates to a value (or to nothing, for a missing path).</summary>
public abstract record Operand;

public sealed record PathOperand(DocumentPath Path) : Operand;

public sealed record ValueOperand(string Placeholder, AttributeValue Value) : Operand;

public sealed record SizeOperand(DocumentPath Path) : Operand;

public sealed record IfNotExistsOperand(DocumentPath Path, Operand Fallback) : Operand;

public sealed record ListAppendOperand(Operand First, Operand Second) : Operand;

public sealed record ArithmeticOperand(Operand Left, char Operator, Operand Right) : Operand;

/// <summary>A boolean expression (ConditionExpression, FilterExpression, KeyConditionExpression).</summary>
public abstract record Condition;

public sealed record ComparisonCondition(Operand Left, string Comparator, Operand Right) : Condition;

public sealed record BetweenCondition(Operand Value, Operand Low, Operand High) : Condition;

public sealed record InCondition(Operand Value, IReadOnlyList<Operand> Candidates) : Condition;

public sealed record AndCondition(Condition Left, Condition Right) : Condition;

public sealed record OrCondition(Condition Left, Condition Right) : Condition;

public sealed record NotCondition(Condition Inner) : Condition;

/// <summary>attribute_exists, attribute_not_exists, attribute_type, begins_with, contains.</summary>
public sealed record FunctionCondition(string Function, IReadOnlyList<Operand> Arguments) : Condition;

public enum UpdateActionKind
{
    Set,
    Remove,
    Add,
    Delete,
}

/// <summary>One action of an UpdateExpression: SET path = value, REMOVE path, ADD path value, DELETE path value.</summary>
public sealed record UpdateAction(UpdateActionKind Kind, DocumentPath Path, Operand? Value);

public sealed record UpdateExpression(IReadOnlyList<UpdateAction> Actions);
