using System.Globalization;
using Millrace.DynamoDb.Model;

namespace Millrace.DynamoDb.Expressions;

/// <summary>
/// Parses DynamoDB's expression language: conditions (ConditionExpression, FilterExpression,
/// KeyConditionExpression), UpdateExpression and ProjectionExpression. #names and :values are resolved through the
/// request's <see cref="ExpressionContext"/> while parsing; errors are DynamoDB's ValidationException texts.
/// Precedence, loosest first: OR, AND, NOT, then comparisons, BETWEEN, IN and functions.
/// </summary>
public sealed class Parser
{
    private enum Kind
    {
        Identifier,
        Name,
        Value,
        Number,
        Symbol,
        End,
    }

    private readonly record struct Token(Kind Kind, string Text, int Start);

    private static readonly HashSet<string> ConditionFunctions = new(StringComparer.Ordinal)
    {
        "attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains",
    };

    private static readonly HashSet<string> ValidTypes = new(StringComparer.Ordinal) { "S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M" };

    private readonly string _text;
    private readonly string _kind;
    private readonly ExpressionContext _context;
    private readonly List<Token> _tokens;
    private int _pos;

    private Parser(string text, string kind, ExpressionContext context)
    {
        _text = text;
        _kind = kind;
        _context = context;
        _tokens = Tokenize();
    }

    public static Condition ParseCondition(string text, string expressionKind, ExpressionContext context)
    {
        var parser = new Parser(text, expressionKind, context);
        parser.RequireNotEmpty();
        var condition = parser.ParseOr();
        parser.Expect(Kind.End);
        return condition;
    }

    public static UpdateExpression ParseUpdate(string text, ExpressionContext context)
    {
        var parser = new Parser(text, "UpdateExpression", context);
        parser.RequireNotEmpty();
        return parser.ParseUpdateClauses();
    }

    public static IReadOnlyList<DocumentPath> ParseProjection(string text, ExpressionContext context)
    {
        var parser = new Parser(text, "ProjectionExpression", context);
        parser.RequireNotEmpty();
        var paths = new List<DocumentPath> { parser.ParsePath() };
        while (parser.Accept(","))
        {
            paths.Add(parser.ParsePath());
        }

        parser.Expect(Kind.End);
        for (int i = 0; i < paths.Count; i++)
        {
            for (int j = i + 1; j < paths.Count; j++)
            {
                if (paths[i].Overlaps(paths[j]))
                {
                    throw parser.Invalid($"Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {paths[i]}, path two: {paths[j]}");
                }
            }
        }

        return paths;
    }

    private void RequireNotEmpty()
    {
        if (_tokens[0].Kind == Kind.End)
        {
            throw DynamoDbException.Validation($"Invalid {_kind}: The expression can not be empty;");
        }
    }

    private DynamoDbException Invalid(string detail) => DynamoDbException.Validation($"Invalid {_kind}: {detail}");

    private List<Token> Tokenize()
    {
        var tokens = new List<Token>();
        int i = 0;
        while (i < _text.Length)
        {
            char c = _text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }

            int start = i;
            if (c is '#' or ':')
            {
                i++;
                while (i < _text.Length && (char.IsAsciiLetterOrDigit(_text[i]) || _text[i] == '_'))
                {
                    i++;
                }

                if (i == start + 1)
                {
                    throw Invalid($"Syntax error; token: \"{c}\", near: \"{Near(start, i)}\"");
                }

                tokens.Add(new Token(c == '#' ? Kind.Name : Kind.Value, _text[start..i], start));
            }
            else if (char.IsAsciiLetter(c) || c == '_')
            {
                while (i < _text.Length && (char.IsAsciiLetterOrDigit(_text[i]) || _text[i] == '_'))
                {
                    i++;
                }

                tokens.Add(new Token(Kind.Identifier, _text[start..i], start));
            }
            else if (char.IsAsciiDigit(c))
            {
                while (i < _text.Length && char.IsAsciiDigit(_text[i]))
                {
                    i++;
                }

                tokens.Add(new Token(Kind.Number, _text[start..i], start));
            }
            else
            {
                string symbol = i + 1 < _text.Length && _text.Substring(i, 2) is "<>" or "<=" or ">=" ? _text.Substring(i, 2) : c.ToString();
                if (symbol.Length == 1 && "()[],.=<>+-".IndexOf(c, StringComparison.Ordinal) < 0)
                {
                    throw Invalid($"Syntax error; token: \"{c}\", near: \"{Near(Math.Max(0, i - 1), Math.Min(_text.Length, i + 2))}\"");
                }

                i += symbol.Length;
                tokens.Add(new Token(Kind.Symbol, symbol, start));
            }
        }

        tokens.Add(new Token(Kind.End, "<EOF>", _text.Length));
        return tokens;
    }

    private string Near(int start, int end) => _text[start..end].Trim();

    private Token Peek(int ahead = 0) => _tokens[Math.Min(_pos + ahead, _tokens.Count - 1)];

    private Token Next() => _tokens[Math.Min(_pos++, _tokens.Count - 1)];

    private DynamoDbException SyntaxError(Token token)
    {
        // DynamoDB quotes the offending token and its neighbours.
        int index = _tokens.IndexOf(token);
        int from = index > 0 ? _tokens[index - 1].Start : token.Start;
        int to = index + 1 < _tokens.Count ? _tokens[index + 1].Start + _tokens[index + 1].Text.Length : _text.Length;
        to = Math.Min(to, _text.Length);
        return Invalid($"Syntax error; token: \"{token.Text}\", near: \"{Near(from, Math.Max(from, to))}\"");
    }

    private bool Accept(string symbol)
    {
        if (Peek().Kind == Kind.Symbol && Peek().Text == symbol)
        {
            _pos++;
            return true;
        }

        return false;
    }

    private bool AcceptKeyword(string keyword)
    {
        if (IsKeyword(Peek(), keyword))
        {
            _pos++;
            return true;
        }

        return false;
    }

    private static bool IsKeyword(Token token, string keyword) =>
        token.Kind == Kind.Identifier && string.Equals(token.Text, keyword, StringComparison.OrdinalIgnoreCase);

    private void ExpectSymbol(string symbol)
    {
        if (!Accept(symbol))
        {
            throw SyntaxError(Peek());
        }
    }

    private void Expect(Kind kind)
    {
        if (Peek().Kind != kind)
        {
            throw SyntaxError(Peek());
        }
    }

    // ---- conditions ----

    private Condition ParseOr()
    {
        var left = ParseAnd();
        while (AcceptKeyword("OR"))
        {
            left = new OrCondition(left, ParseAnd());
        }

        return left;
    }

    private Condition ParseAnd()
    {
        var left = ParseNot();
        while (AcceptKeyword("AND"))
        {
            left = new AndCondition(left, ParseNot());
        }

        return left;
    }

    private Condition ParseNot()
    {
        if (AcceptKeyword("NOT"))
        {
            return new NotCondition(ParseNot());
        }

        return ParsePrimaryCondition();
    }

    private Condition ParsePrimaryCondition()
    {
        if (Accept("("))
        {
            var inner = ParseOr();
            ExpectSymbol(")");
            return inner;
        }

        var token = Peek();
        if (token.Kind == Kind.Identifier && Peek(1) is { Kind: Kind.Symbol, Text: "(" } && ConditionFunctions.Contains(token.Text))
        {
            return ParseConditionFunction();
        }

        var left = ParseConditionOperand();
        var op = Peek();
        if (op.Kind == Kind.Symbol && op.Text is "=" or "<>" or "<" or "<=" or ">" or ">=")
        {
            _pos++;
            return new ComparisonCondition(left, op.Text, ParseConditionOperand());
        }

        if (AcceptKeyword("BETWEEN"))
        {
            var low = ParseConditionOperand();
            if (!AcceptKeyword("AND"))
            {
                throw SyntaxError(Peek());
            }

            return new BetweenCondition(left, low, ParseConditionOperand());
        }

        if (AcceptKeyword("IN"))
        {
            ExpectSymbol("(");
            var candidates = new List<Operand> { ParseConditionOperand() };
            while (Accept(","))
            {
                candidates.Add(ParseConditionOperand());
            }

            ExpectSymbol(")");
            if (candidates.Count > 100)
            {
                throw Invalid($"The IN operator is provided with too many operands; number of operands: {candidates.Count}");
            }

            return new InCondition(left, candidates);
        }

        throw SyntaxError(op);
    }

    private Condition ParseConditionFunction()
    {
        var name = Next().Text;
        var args = ParseArguments(ParseConditionOperand);
        int expected = name is "attribute_exists" or "attribute_not_exists" ? 1 : 2;
        if (args.Count != expected)
        {
            throw Invalid($"Incorrect number of operands for operator or function; operator or function: {name}, number of operands: {args.Count}");
        }

        if (args[0] is not PathOperand)
        {
            throw Invalid($"Operator or function requires a document path; operator or function: {name}");
        }

        if (name == "attribute_type")
        {
            if (args[1] is not ValueOperand { Value.Type: AttributeType.S } type)
            {
                throw Invalid($"Incorrect operand type for operator or function; operator or function: {name}, operand type: {TypeName(args[1])}");
            }

            if (!ValidTypes.Contains(type.Value.S))
            {
                throw Invalid($"Invalid attribute type name found; type: {type.Value.S}, valid types: {{ B,NULL,SS,BOOL,L,BS,N,NS,S,M }}");
            }
        }

        if (name == "begins_with" && args[1] is ValueOperand { Value.Type: not (AttributeType.S or AttributeType.B) } prefix)
        {
            throw Invalid($"Incorrect operand type for operator or function; operator or function: {name}, operand type: {TypeName(prefix)}");
        }

        return new FunctionCondition(name, args);
    }

    private static string TypeName(Operand operand) => operand is ValueOperand v ? WireTypeName(v.Value.Type) : "PATH";

    /// <summary>The type names DynamoDB's operand-type messages use.</summary>
    public static string WireTypeName(AttributeType type) => type switch
    {
        AttributeType.S => "S",
        AttributeType.N => "N",
        AttributeType.B => "B",
        AttributeType.BOOL => "BOOL",
        AttributeType.NULL => "NULL",
        AttributeType.SS => "SS",
        AttributeType.NS => "NS",
        AttributeType.BS => "BS",
        AttributeType.L => "L",
        _ => "M",
    };

    private List<Operand> ParseArguments(Func<Operand> operand)
    {
        ExpectSymbol("(");
        var args = new List<Operand>();
        if (!Accept(")"))
        {
            args.Add(operand());
            while (Accept(","))
            {
                args.Add(operand());
            }

            ExpectSymbol(")");
        }

        return args;
    }

    private Operand ParseConditionOperand()
    {
        var token = Peek();
        if (token.Kind == Kind.Identifier && Peek(1) is { Kind: Kind.Symbol, Text: "(" })
        {
            if (token.Text == "size")
            {
                _pos++;
                var args = ParseArguments(ParseConditionOperand);
                if (args.Count != 1)
                {
                    throw Invalid($"Incorrect number of operands for operator or function; operator or function: size, number of operands: {args.Count}");
                }

                return args[0] is PathOperand p ? new SizeOperand(p.Path) : throw Invalid("Operator or function requires a document path; operator or function: size");
            }

            if (ConditionFunctions.Contains(token.Text) || token.Text is "if_not_exists" or "list_append")
            {
                throw Invalid($"The function is not allowed to be used this way in an expression; function: {token.Text}");
            }

            throw Invalid($"Invalid function name; function: {token.Text}");
        }

        return ParseSimpleOperand();
    }

    private Operand ParseSimpleOperand()
    {
        var token = Peek();
        if (token.Kind == Kind.Value)
        {
            _pos++;
            return new ValueOperand(token.Text, _context.ResolveValue(token.Text, _kind));
        }

        return new PathOperand(ParsePath());
    }

    private DocumentPath ParsePath()
    {
        var elements = new List<PathElement> { new NameElement(ParseName()) };
        while (true)
        {
            if (Accept("."))
            {
                elements.Add(new NameElement(ParseName()));
            }
            else if (Accept("["))
            {
                var index = Next();
                if (index.Kind != Kind.Number || !int.TryParse(index.Text, NumberStyles.None, CultureInfo.InvariantCulture, out int i))
                {
                    throw SyntaxError(index);
                }

                ExpectSymbol("]");
                elements.Add(new IndexElement(i));
            }
            else
            {
                return new DocumentPath(elements);
            }
        }
    }

    private string ParseName()
    {
        var token = Next();
        return token.Kind switch
        {
            Kind.Name => _context.ResolveName(token.Text, _kind),
            Kind.Identifier when ReservedWords.Contains(token.Text) =>
                throw Invalid($"Attribute name is a reserved keyword; reserved keyword: {token.Text}"),
            Kind.Identifier => token.Text,
            _ => throw SyntaxError(token),
        };
    }

    // ---- update expressions ----

    private UpdateExpression ParseUpdateClauses()
    {
        var actions = new List<UpdateAction>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (Peek().Kind != Kind.End)
        {
            var keyword = Next();
            string clause = keyword.Kind == Kind.Identifier ? keyword.Text.ToUpperInvariant() : "";
            if (clause is not ("SET" or "REMOVE" or "ADD" or "DELETE"))
            {
                throw SyntaxError(keyword);
            }

            if (!seen.Add(clause))
            {
                throw Invalid($"The \"{clause}\" section can only be used once in an update expression;");
            }

            do
            {
                actions.Add(clause switch
                {
                    "SET" => ParseSetAction(),
                    "REMOVE" => new UpdateAction(UpdateActionKind.Remove, ParsePath(), null),
                    "ADD" => ParseAddOrDelete(UpdateActionKind.Add, "ADD"),
                    _ => ParseAddOrDelete(UpdateActionKind.Delete, "DELETE"),
                });
            }
            while (Accept(","));
        }

        for (int i = 0; i < actions.Count; i++)
        {
            for (int j = i + 1; j < actions.Count; j++)
            {
                if (actions[i].Path.Overlaps(actions[j].Path))
                {
                    throw Invalid($"Two document paths overlap with each other; must remove or rewrite one of these paths; path one: {actions[i].Path}, path two: {actions[j].Path}");
                }
            }
        }

        return new UpdateExpression(actions);
    }

    private UpdateAction ParseSetAction()
    {
        var path = ParsePath();
        ExpectSymbol("=");
        var value = ParseSetValue();
        if (Peek() is { Kind: Kind.Symbol, Text: "+" or "-" } op)
        {
            _pos++;
            value = new ArithmeticOperand(value, op.Text[0], ParseSetValue());
        }

        return new UpdateAction(UpdateActionKind.Set, path, value);
    }

    private Operand ParseSetValue()
    {
        var token = Peek();
        if (token.Kind == Kind.Identifier && Peek(1) is { Kind: Kind.Symbol, Text: "(" })
        {
            _pos++;
            switch (token.Text)
            {
                case "if_not_exists":
                {
                    var args = ParseArguments(ParseSetValue);
                    if (args.Count != 2)
                    {
                        throw Invalid($"Incorrect number of operands for operator or function; operator or function: if_not_exists, number of operands: {args.Count}");
                    }

                    return args[0] is PathOperand p
                        ? new IfNotExistsOperand(p.Path, args[1])
                        : throw Invalid("Operator or function requires a document path; operator or function: if_not_exists");
                }

                case "list_append":
                {
                    var args = ParseArguments(ParseSetValue);
                    if (args.Count != 2)
                    {
                        throw Invalid($"Incorrect number of operands for operator or function; operator or function: list_append, number of operands: {args.Count}");
                    }

                    foreach (var arg in args)
                    {
                        if (arg is ValueOperand { Value.Type: not AttributeType.L } v)
                        {
                            throw Invalid($"Incorrect operand type for operator or function; operator or function: list_append, operand type: {WireTypeName(v.Value.Type)}");
                        }
                    }

                    return new ListAppendOperand(args[0], args[1]);
                }

                default:
                    throw ConditionFunctions.Contains(token.Text) || token.Text == "size"
                        ? Invalid($"The function is not allowed in a update expression; function: {token.Text}")
                        : Invalid($"Invalid function name; function: {token.Text}");
            }
        }

        return ParseSimpleOperand();
    }

    private UpdateAction ParseAddOrDelete(UpdateActionKind kind, string clause)
    {
        var path = ParsePath();
        var token = Peek();
        if (token.Kind != Kind.Value)
        {
            throw SyntaxError(token);
        }

        var value = (ValueOperand)ParseSimpleOperand();
        bool allowed = kind == UpdateActionKind.Add ? value.Value.Type == AttributeType.N || value.Value.IsSet : value.Value.IsSet;
        if (!allowed)
        {
            throw Invalid($"Incorrect operand type for operator or function; operator: {clause}, operand type: {OperandTypeWord(value.Value.Type)}");
        }

        return new UpdateAction(kind, path, value);
    }

    /// <summary>The words DynamoDB uses in "operand type: …" of ADD and DELETE.</summary>
    private static string OperandTypeWord(AttributeType type) => type switch
    {
        AttributeType.S => "STRING",
        AttributeType.N => "NUMBER",
        AttributeType.B => "BINARY",
        AttributeType.BOOL => "BOOLEAN",
        AttributeType.NULL => "NULL",
        AttributeType.L => "LIST",
        AttributeType.M => "MAP",
        AttributeType.SS => "STRING SET",
        AttributeType.NS => "NUMBER SET",
        _ => "BINARY SET",
    };
}
