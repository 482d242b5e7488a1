using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static Millrace.Firehose.Jq.JqValues;

namespace Millrace.Firehose.Jq;

/// <summary>A compiled jq expression: evaluated against an input it yields a stream of outputs, as jq does.</summary>
internal delegate IEnumerable<JsonNode?> JqFilter(JsonNode? input, JqScope scope);

/// <summary>Variables bound by <c>as $x</c> and <c>reduce</c>, innermost first.</summary>
internal sealed record JqScope(string? Name, JsonNode? Value, JqScope? Outer)
{
    public static readonly JqScope Empty = new(null, null, null);

    public JsonNode? Get(string name)
    {
        for (var s = this; s is not null; s = s.Outer)
        {
            if (s.Name == name)
            {
                return s.Value;
            }
        }

        throw new JqException($"${name} is not defined");
    }
}

/// <summary>
/// A jq 1.6 program for Firehose's MetadataExtraction: paths (<c>.a.b</c>, <c>."a"</c>, <c>.[0]</c>, <c>.[]</c>, slices,
/// <c>?</c>), pipes, commas, object and array construction, string interpolation, arithmetic and comparison with jq's
/// type rules, <c>and</c>/<c>or</c>/<c>//</c>, <c>if</c>, <c>try</c>/<c>catch</c>, <c>reduce</c>, <c>as $x</c>, and the
/// builtins partition-key queries use (see <see cref="JqBuiltins"/>). Not supported: <c>def</c>, <c>..</c>, paths
/// assignment (<c>|=</c>, <c>=</c>), <c>$__loc__</c>, <c>limit</c>/<c>label</c>, formats other than @base64(d), @text, @json.
/// </summary>
public sealed class JqProgram
{
    private readonly JqFilter _filter;

    private JqProgram(JqFilter filter) => _filter = filter;

    public static JqProgram Parse(string query) => new(new JqParser(query).ParseProgram());

    public IEnumerable<JsonNode?> Evaluate(JsonNode? input) => _filter(input, JqScope.Empty);

    /// <summary>
    /// Firehose's partition keys of a record: the query's first output must be an object of scalar values (strings,
    /// numbers, booleans), each rendered as <c>jq -r</c> prints it. False with the reason otherwise.
    /// </summary>
    public static bool TryExtractPartitionKeys(JqProgram program, ReadOnlySpan<byte> utf8Json, out Dictionary<string, string> keys, out string error)
    {
        keys = new Dictionary<string, string>(StringComparer.Ordinal);
        JsonNode? input;
        try
        {
            input = JsonNode.Parse(utf8Json, documentOptions: Millrace.Protocol.Wire.JsonText.StrictDocument);
        }
        catch (JsonException e)
        {
            error = $"The record is not valid JSON: {e.Message}";
            return false;
        }

        try
        {
            var first = program.Evaluate(input).Take(1).ToList();
            if (first.Count == 0 || first[0] is not JsonObject o)
            {
                error = first.Count == 0 ? "The metadata extraction query produced no output." : $"The metadata extraction query produced {Describe(first[0])}, not an object.";
                return false;
            }

            foreach (var (key, value) in o)
            {
                if (value is null || Type(value) is "object" or "array")
                {
                    error = $"The partition key '{key}' is {Describe(value)}; partition keys must be strings, numbers or booleans.";
                    return false;
                }

                keys[key] = Raw(value);
            }

            error = "";
            return true;
        }
        catch (JqException e)
        {
            error = $"The metadata extraction query failed: {e.Message}";
            return false;
        }
    }
}

/// <summary>A recursive-descent parser from jq text to <see cref="JqFilter"/> closures.</summary>
internal sealed class JqParser(string text)
{
    private int _pos;

    public JqFilter ParseProgram()
    {
        var f = ParsePipe();
        Skip();
        if (_pos < text.Length)
        {
            throw Error($"unexpected '{text[_pos]}'");
        }

        return f;
    }

    private JqException Error(string what) => new($"syntax error: {what} at position {_pos} of '{text}'");

    private void Skip()
    {
        while (_pos < text.Length && (char.IsWhiteSpace(text[_pos]) || text[_pos] == '#'))
        {
            if (text[_pos] == '#')
            {
                while (_pos < text.Length && text[_pos] != '\n')
                {
                    _pos++;
                }
            }
            else
            {
                _pos++;
            }
        }
    }

    private bool Peek(string token)
    {
        Skip();
        if (!text.AsSpan(_pos).StartsWith(token, StringComparison.Ordinal))
        {
            return false;
        }

        // A keyword must not run into an identifier character.
        var end = _pos + token.Length;
        return !(char.IsAsciiLetter(token[^1]) && end < text.Length && (char.IsAsciiLetterOrDigit(text[end]) || text[end] == '_'));
    }

    private bool Accept(string token)
    {
        if (!Peek(token))
        {
            return false;
        }

        _pos += token.Length;
        return true;
    }

    private void Expect(string token)
    {
        if (!Accept(token))
        {
            throw Error($"expected '{token}'");
        }
    }

    // pipe: comma ('as' $x)? ('|' pipe)?
    private JqFilter ParsePipe()
    {
        var left = ParseComma();
        if (Accept("as"))
        {
            Skip();
            Expect("$");
            var name = Identifier();
            Expect("|");
            var body = ParsePipe();
            return (input, scope) => left(input, scope).SelectMany(v => body(input, new JqScope(name, v, scope)));
        }

        if (Peek("|") && !Peek("|="))
        {
            _pos++;
            var right = ParsePipe();
            return (input, scope) => left(input, scope).SelectMany(v => right(v, scope));
        }

        return left;
    }

    private JqFilter ParseComma()
    {
        var left = ParseAlternative();
        while (Accept(","))
        {
            var (l, r) = (left, ParseAlternative());
            left = (input, scope) => l(input, scope).Concat(r(input, scope));
        }

        return left;
    }

    // a // b: a's truthy outputs, or b's when there are none (errors in a count as none).
    private JqFilter ParseAlternative()
    {
        var left = ParseOr();
        if (Accept("//"))
        {
            var right = ParseAlternative();
            return (input, scope) =>
            {
                List<JsonNode?> kept;
                try
                {
                    kept = left(input, scope).Where(Truthy).ToList();
                }
                catch (JqException)
                {
                    kept = [];
                }

                return kept.Count > 0 ? kept : right(input, scope);
            };
        }

        return left;
    }

    private JqFilter ParseOr()
    {
        var left = ParseAnd();
        while (Accept("or"))
        {
            var (l, r) = (left, ParseAnd());
            left = (input, scope) => l(input, scope).SelectMany(a => Truthy(a) ? [Bool(true)] : r(input, scope).Select(b => Bool(Truthy(b))));
        }

        return left;
    }

    private JqFilter ParseAnd()
    {
        var left = ParseComparison();
        while (Accept("and"))
        {
            var (l, r) = (left, ParseComparison());
            left = (input, scope) => l(input, scope).SelectMany(a => !Truthy(a) ? [Bool(false)] : r(input, scope).Select(b => Bool(Truthy(b))));
        }

        return left;
    }

    private JqFilter ParseComparison()
    {
        var left = ParseAdditive();
        foreach (var op in new[] { "==", "!=", "<=", ">=", "<", ">" })
        {
            if (Accept(op))
            {
                var right = ParseAdditive();
                return Binary(left, right, (a, b) =>
                {
                    var c = Compare(a, b);
                    return Bool(op switch { "==" => c == 0, "!=" => c != 0, "<=" => c <= 0, ">=" => c >= 0, "<" => c < 0, _ => c > 0 });
                });
            }
        }

        return left;
    }

    private JqFilter ParseAdditive()
    {
        var left = ParseMultiplicative();
        while (true)
        {
            if (Peek("+") && !Peek("+="))
            {
                _pos++;
                left = Binary(left, ParseMultiplicative(), JqArithmetic.Add);
            }
            else if (Peek("-") && !Peek("-="))
            {
                _pos++;
                left = Binary(left, ParseMultiplicative(), JqArithmetic.Subtract);
            }
            else
            {
                return left;
            }
        }
    }

    private JqFilter ParseMultiplicative()
    {
        var left = ParsePostfix();
        while (true)
        {
            if (Peek("*") && !Peek("*="))
            {
                _pos++;
                left = Binary(left, ParsePostfix(), JqArithmetic.Multiply);
            }
            else if (Peek("/") && !Peek("//") && !Peek("/="))
            {
                _pos++;
                left = Binary(left, ParsePostfix(), JqArithmetic.Divide);
            }
            else if (Peek("%") && !Peek("%="))
            {
                _pos++;
                left = Binary(left, ParsePostfix(), JqArithmetic.Modulo);
            }
            else
            {
                return left;
            }
        }
    }

    /// <summary>jq evaluates the right operand first and forms the cartesian product.</summary>
    private static JqFilter Binary(JqFilter left, JqFilter right, Func<JsonNode?, JsonNode?, JsonNode?> op) =>
        (input, scope) => right(input, scope).SelectMany(b => left(input, scope).Select(a => op(a, b)));

    // postfix: primary ( '.foo' | '[e]' | '[]' | '[a:b]' | '?' )*
    private JqFilter ParsePostfix()
    {
        var f = ParsePrimary();
        while (true)
        {
            Skip();
            if (_pos < text.Length && text[_pos] == '.' && _pos + 1 < text.Length && (char.IsAsciiLetter(text[_pos + 1]) || text[_pos + 1] is '_' or '"' or '['))
            {
                _pos++;
                f = Chain(f, ParseAfterDot());
            }
            else if (Peek("["))
            {
                f = Chain(f, ParseBracket());
            }
            else if (Accept("?"))
            {
                var inner = f;
                f = (input, scope) => Try(() => inner(input, scope).ToList());
            }
            else
            {
                return f;
            }
        }
    }

    private static IEnumerable<JsonNode?> Try(Func<List<JsonNode?>> run)
    {
        try
        {
            return run();
        }
        catch (JqException)
        {
            return [];
        }
    }

    private static JqFilter Chain(JqFilter first, JqFilter then) => (input, scope) => first(input, scope).SelectMany(v => then(v, scope));

    private JqFilter ParseAfterDot()
    {
        if (_pos < text.Length && text[_pos] == '"')
        {
            var name = ParseStringLiteral();
            return (input, scope) => name(input, scope).Select(n => Index(input, n));
        }

        if (_pos < text.Length && text[_pos] == '[')
        {
            return ParseBracket();
        }

        var field = Identifier();
        return (input, _) => [Index(input, Str(field))];
    }

    private JqFilter ParseBracket()
    {
        Expect("[");
        if (Accept("]"))
        {
            return (input, _) => input switch
            {
                JsonArray a => a.Select(Copy).ToList(),
                JsonObject o => o.Select(p => Copy(p.Value)).ToList(),
                _ => throw new JqException($"Cannot iterate over {Describe(input)}"),
            };
        }

        JqFilter? from = Peek(":") ? null : ParsePipe();
        if (Accept(":"))
        {
            JqFilter? to = Peek("]") ? null : ParsePipe();
            Expect("]");
            return (input, scope) => Slice(input, from is null ? null : from(input, scope).First(), to is null ? null : to(input, scope).First());
        }

        Expect("]");
        return (input, scope) => from!(input, scope).Select(k => Index(input, k));
    }

    internal static JsonNode? Index(JsonNode? input, JsonNode? key)
    {
        switch (input)
        {
            case null:
                return Type(key) is "string" or "number" ? null : throw new JqException($"Cannot index null with {Type(key)}");
            case JsonObject o when IsString(key):
                return Copy(o[Text(key)]);
            case JsonArray a when IsNumber(key):
                var i = (int)Math.Floor(Num(key));
                if (i < 0)
                {
                    i += a.Count;
                }

                return i >= 0 && i < a.Count ? Copy(a[i]) : null;
            default:
                throw new JqException(IsString(key)
                    ? $"Cannot index {Type(input)} with \"{Text(key)}\""
                    : $"Cannot index {Type(input)} with {Type(key)}");
        }
    }

    private static IEnumerable<JsonNode?> Slice(JsonNode? input, JsonNode? from, JsonNode? to)
    {
        if (input is null)
        {
            return [null];
        }

        var length = input switch
        {
            JsonArray a => a.Count,
            _ when IsString(input) => Text(input).Length,
            _ => throw new JqException($"Cannot index {Type(input)} with object"),
        };
        int Bound(JsonNode? v, int fallback)
        {
            if (v is null)
            {
                return fallback;
            }

            var n = (int)Math.Floor(Num(v));
            return Math.Clamp(n < 0 ? n + length : n, 0, length);
        }

        var (start, end) = (Bound(from, 0), Bound(to, length));
        end = Math.Max(start, end);
        return input is JsonArray arr
            ? [new JsonArray([.. arr.Skip(start).Take(end - start).Select(Copy)])]
            : [Str(Text(input)[start..end])];
    }

    private string Identifier()
    {
        Skip();
        var start = _pos;
        while (_pos < text.Length && (char.IsAsciiLetterOrDigit(text[_pos]) || text[_pos] == '_' || (text[_pos] == ':' && _pos + 1 < text.Length && text[_pos + 1] == ':')))
        {
            _pos += text[_pos] == ':' ? 2 : 1;
        }

        if (start == _pos || char.IsAsciiDigit(text[start]))
        {
            throw Error("expected a name");
        }

        return text[start.._pos];
    }

    private JqFilter ParsePrimary()
    {
        Skip();
        if (_pos >= text.Length)
        {
            throw Error("unexpected end of query");
        }

        var c = text[_pos];
        if (c == '.')
        {
            _pos++;
            if (_pos < text.Length && text[_pos] == '.')
            {
                throw Error("the recursive descent operator '..' is not supported");
            }

            if (_pos < text.Length && (char.IsAsciiLetter(text[_pos]) || text[_pos] is '_' or '"' or '['))
            {
                return ParseAfterDot();
            }

            return (input, _) => [input];
        }

        if (c == '"')
        {
            return ParseStringLiteral();
        }

        if (char.IsAsciiDigit(c))
        {
            var start = _pos;
            while (_pos < text.Length && (char.IsAsciiDigit(text[_pos]) || text[_pos] == '.' || ((text[_pos] is 'e' or 'E') && _pos + 1 < text.Length)
                       || ((text[_pos] is '+' or '-') && text[_pos - 1] is 'e' or 'E')))
            {
                _pos++;
            }

            var value = double.Parse(text[start.._pos], CultureInfo.InvariantCulture);
            return (_, _) => [Number(value)];
        }

        if (c == '-')
        {
            _pos++;
            var operand = ParsePostfix();
            return (input, scope) => operand(input, scope).Select(v => Number(-Num(v)));
        }

        if (c == '(')
        {
            _pos++;
            var inner = ParsePipe();
            Expect(")");
            return inner;
        }

        if (c == '[')
        {
            _pos++;
            if (Accept("]"))
            {
                return (_, _) => [new JsonArray()];
            }

            var inner = ParsePipe();
            Expect("]");
            return (input, scope) => [new JsonArray([.. inner(input, scope).Select(Copy)])];
        }

        if (c == '{')
        {
            return ParseObject();
        }

        if (c == '$')
        {
            _pos++;
            var name = Identifier();
            if (name == "__loc__")
            {
                throw Error("$__loc__ is not supported");
            }

            return (_, scope) => [Copy(scope.Get(name))];
        }

        if (c == '@')
        {
            _pos++;
            var format = Identifier();
            Skip();
            if (_pos < text.Length && text[_pos] == '"')
            {
                var literal = ParseStringLiteral(format);
                return literal;
            }

            return JqBuiltins.Format(format) ?? throw Error($"@{format} is not a supported format");
        }

        if (Accept("if"))
        {
            return ParseIf();
        }

        if (Accept("try"))
        {
            var body = ParsePostfix();
            JqFilter? handler = Accept("catch") ? ParsePostfix() : null;
            return (input, scope) =>
            {
                var outputs = new List<JsonNode?>();
                try
                {
                    foreach (var v in body(input, scope))
                    {
                        outputs.Add(v);
                    }
                }
                catch (JqException e)
                {
                    if (handler is not null)
                    {
                        outputs.AddRange(handler(Str(e.Message), scope));
                    }
                }

                return outputs;
            };
        }

        if (Accept("reduce"))
        {
            var source = ParsePostfix();
            Expect("as");
            Skip();
            Expect("$");
            var name = Identifier();
            Expect("(");
            var init = ParsePipe();
            Expect(";");
            var update = ParsePipe();
            Expect(")");
            return (input, scope) => init(input, scope).Select(start =>
            {
                var acc = start;
                foreach (var item in source(input, scope))
                {
                    acc = update(acc, new JqScope(name, item, scope)).LastOrDefault();
                }

                return acc;
            }).ToList();
        }

        if (char.IsAsciiLetter(c) || c == '_')
        {
            var name = Identifier();
            var args = new List<JqFilter>();
            if (Accept("("))
            {
                do
                {
                    args.Add(ParsePipe());
                }
                while (Accept(";"));
                Expect(")");
            }

            return JqBuiltins.Get(name, args) ?? throw new JqException($"{name}/{args.Count} is not defined");
        }

        throw Error($"unexpected '{c}'");
    }

    private JqFilter ParseIf()
    {
        var condition = ParsePipe();
        Expect("then");
        var then = ParsePipe();
        JqFilter otherwise;
        if (Accept("elif"))
        {
            otherwise = ParseIf();
            return (input, scope) => condition(input, scope).SelectMany(c => Truthy(c) ? then(input, scope) : otherwise(input, scope));
        }

        if (Accept("else"))
        {
            otherwise = ParsePipe();
        }
        else
        {
            throw Error("jq 1.6 requires 'else' in 'if'");
        }

        Expect("end");
        return (input, scope) => condition(input, scope).SelectMany(c => Truthy(c) ? then(input, scope) : otherwise(input, scope));
    }

    /// <summary>Object construction: each entry's key and value streams form a cartesian product of objects.</summary>
    private JqFilter ParseObject()
    {
        Expect("{");
        var entries = new List<(JqFilter Key, JqFilter Value)>();
        if (!Accept("}"))
        {
            do
            {
                Skip();
                JqFilter key;
                JqFilter? value = null;
                if (Accept("$"))
                {
                    var variable = Identifier();
                    key = (_, _) => [Str(variable)];
                    value = (_, scope) => [Copy(scope.Get(variable))];
                }
                else if (text[_pos] == '"')
                {
                    key = ParseStringLiteral();
                }
                else if (text[_pos] == '(')
                {
                    _pos++;
                    key = ParsePipe();
                    Expect(")");
                }
                else if (text[_pos] == '@')
                {
                    key = ParsePrimary();
                }
                else
                {
                    var name = Identifier();
                    key = (_, _) => [Str(name)];
                }

                if (value is null)
                {
                    if (Accept(":"))
                    {
                        value = ParseObjectValue();
                    }
                    else
                    {
                        // {a} is {a: .a}; {"\(x)"} is {"\(x)": .["\(x)"]}
                        var k = key;
                        value = (input, scope) => k(input, scope).Select(n => Index(input, n));
                    }
                }

                entries.Add((key, value));
            }
            while (Accept(","));
            Expect("}");
        }

        return (input, scope) =>
        {
            IEnumerable<JsonObject> results = [new JsonObject()];
            foreach (var (key, value) in entries)
            {
                var pairs = key(input, scope).SelectMany(k => value(input, scope).Select(v => (k, v))).ToList();
                results = results.SelectMany(o => pairs.Select(p =>
                {
                    var copy = o.DeepClone().AsObject();
                    copy[IsString(p.k) ? Text(p.k) : throw new JqException($"Object keys must be strings")] = Copy(p.v);
                    return copy;
                })).ToList();
            }

            return results;
        };
    }

    // An object value is a term without ',' or '|' at its top level (jq's ExpD), e.g. {a: .x | ascii_downcase} is not allowed unparenthesised.
    private JqFilter ParseObjectValue()
    {
        var value = ParseAlternative();
        while (Peek("|") && !Peek("|="))
        {
            _pos++;
            var (l, r) = (value, ParseAlternative());
            value = (input, scope) => l(input, scope).SelectMany(v => r(v, scope));
        }

        return value;
    }

    /// <summary>A string literal with escapes and <c>\(expr)</c> interpolation (formatted by @format when given).</summary>
    private JqFilter ParseStringLiteral(string? format = null)
    {
        Expect("\"");
        var parts = new List<object>();
        var current = new StringBuilder();
        while (true)
        {
            if (_pos >= text.Length)
            {
                throw Error("unterminated string");
            }

            var c = text[_pos++];
            if (c == '"')
            {
                break;
            }

            if (c != '\\')
            {
                current.Append(c);
                continue;
            }

            var e = text[_pos++];
            switch (e)
            {
                case '(':
                    parts.Add(current.ToString());
                    current.Clear();
                    parts.Add(ParsePipe());
                    Expect(")");
                    break;
                case 'n': current.Append('\n'); break;
                case 't': current.Append('\t'); break;
                case 'r': current.Append('\r'); break;
                case 'b': current.Append('\b'); break;
                case 'f': current.Append('\f'); break;
                case 'u':
                    current.Append((char)int.Parse(text.AsSpan(_pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    _pos += 4;
                    break;
                default: current.Append(e); break;
            }
        }

        parts.Add(current.ToString());
        var formatter = format is null ? null : JqBuiltins.Format(format) ?? throw Error($"@{format} is not a supported format");
        return (input, scope) =>
        {
            IEnumerable<string> results = [""];
            foreach (var part in parts)
            {
                if (part is string s)
                {
                    results = results.Select(r => r + s).ToList();
                }
                else
                {
                    var values = ((JqFilter)part)(input, scope)
                        .Select(v => formatter is null ? Raw(v) : Text(formatter(v, scope).Single())).ToList();
                    results = values.SelectMany(v => results.Select(r => r + v)).ToList();
                }
            }

            return results.Select(Str).ToList();
        };
    }
}
