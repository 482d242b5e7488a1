using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Millrace.Logs;

/// <summary>The error a filter pattern that does not parse gets (InvalidParameterException on the wire).</summary>
public sealed class FilterPatternException(string message) : Exception(message);

/// <summary>
/// A CloudWatch Logs filter pattern, compiled once per request. Supported: the empty pattern (everything); terms
/// (<c>ERROR</c>, <c>"quoted phrase"</c>: all must occur, case-sensitive), <c>?term</c> alternatives (at least one),
/// <c>-term</c> exclusions; regular expressions <c>%regex%</c>; JSON patterns <c>{ $.a.b[0] = "x*" }</c> with
/// <c>= != &lt; &gt; &lt;= &gt;=</c>, <c>IS TRUE|FALSE|NULL</c>, <c>NOT EXISTS</c>, <c>&amp;&amp;</c>, <c>||</c> and
/// parentheses; and space-delimited patterns <c>[ip, user, ..., status = 4*, size &gt; 1000]</c>.
/// </summary>
public sealed class FilterPattern
{
    private readonly Func<string, bool> _match;

    private FilterPattern(Func<string, bool> match) => _match = match;

    public static readonly FilterPattern All = new(_ => true);

    public bool Matches(string message) => _match(message);

    public static FilterPattern Parse(string? pattern)
    {
        var text = (pattern ?? string.Empty).Trim();
        if (text.Length == 0 || text == "\"\"")
        {
            return All;
        }

        if (text[0] == '{')
        {
            if (text[^1] != '}')
            {
                throw new FilterPatternException("Invalid JSON filter pattern: it must end with '}'.");
            }

            var parser = new JsonPatternParser(text[1..^1]);
            var predicate = parser.ParseAll();
            return new FilterPattern(message => JsonPatternParser.TryParseJson(message) is { } doc && predicate(doc));
        }

        if (text[0] == '[')
        {
            if (text[^1] != ']')
            {
                throw new FilterPatternException("Invalid space-delimited filter pattern: it must end with ']'.");
            }

            return new FilterPattern(SpaceDelimited.Compile(text[1..^1]));
        }

        if (text.Length >= 2 && text[0] == '%' && text[^1] == '%')
        {
            Regex regex;
            try
            {
                regex = new Regex(text[1..^1], RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
            }
            catch (ArgumentException e)
            {
                throw new FilterPatternException($"Invalid regular expression in filter pattern: {e.Message}");
            }

            return new FilterPattern(message =>
            {
                try
                {
                    return regex.IsMatch(message);
                }
                catch (RegexMatchTimeoutException)
                {
                    return false;
                }
            });
        }

        return new FilterPattern(CompileTerms(text));
    }

    private static Func<string, bool> CompileTerms(string text)
    {
        List<string> required = [], anyOf = [], excluded = [];
        var i = 0;
        while (i < text.Length)
        {
            if (char.IsWhiteSpace(text[i]))
            {
                i++;
                continue;
            }

            var target = required;
            if (text[i] is '?' or '-' && i + 1 < text.Length && !char.IsWhiteSpace(text[i + 1]))
            {
                target = text[i] == '?' ? anyOf : excluded;
                i++;
            }

            string term;
            if (text[i] == '"')
            {
                var end = text.IndexOf('"', i + 1);
                if (end < 0)
                {
                    throw new FilterPatternException("Invalid filter pattern: unterminated quoted term.");
                }

                term = text[(i + 1)..end];
                i = end + 1;
            }
            else
            {
                var start = i;
                while (i < text.Length && !char.IsWhiteSpace(text[i]))
                {
                    i++;
                }

                term = text[start..i];
                foreach (var c in term)
                {
                    // AWS wants terms with anything but letters, digits and a few marks quoted.
                    if (!char.IsLetterOrDigit(c) && c is not ('_' or '.' or '-' or ':' or '/' or '@' or '*'))
                    {
                        throw new FilterPatternException($"Invalid character(s) in term '{term}'");
                    }
                }
            }

            if (term.Length > 0)
            {
                target.Add(term);
            }
        }

        return message =>
        {
            foreach (var term in required)
            {
                if (!message.Contains(term, StringComparison.Ordinal))
                {
                    return false;
                }
            }

            foreach (var term in excluded)
            {
                if (message.Contains(term, StringComparison.Ordinal))
                {
                    return false;
                }
            }

            if (anyOf.Count == 0)
            {
                return true;
            }

            foreach (var term in anyOf)
            {
                if (message.Contains(term, StringComparison.Ordinal))
                {
                    return true;
                }
            }

            return false;
        };
    }

    /// <summary>Compares a field's text with a pattern value: numbers numerically, strings with '*' wildcards.</summary>
    internal static bool Compare(string op, string? fieldText, double? fieldNumber, string value, bool valueQuoted)
    {
        if (!valueQuoted && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            if (fieldNumber is not { } field)
            {
                return op == "!=" && fieldText is not null;
            }

            return op switch
            {
                "=" => field == number,
                "!=" => field != number,
                "<" => field < number,
                ">" => field > number,
                "<=" => field <= number,
                ">=" => field >= number,
                _ => false,
            };
        }

        if (fieldText is null)
        {
            return false;
        }

        return op switch
        {
            "=" => Wildcard(value, fieldText),
            "!=" => !Wildcard(value, fieldText),
            _ => throw new FilterPatternException($"Invalid filter pattern: '{op}' needs a numeric value."),
        };
    }

    private static bool Wildcard(string pattern, string text)
    {
        if (!pattern.Contains('*', StringComparison.Ordinal))
        {
            return pattern == text;
        }

        var regex = "^" + string.Join(".*", pattern.Split('*').Select(Regex.Escape)) + "$";
        return Regex.IsMatch(text, regex, RegexOptions.Singleline | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
    }

    /// <summary>Reads a comparison operator at <paramref name="i"/>, or null.</summary>
    internal static string? ReadOperator(string text, ref int i)
    {
        foreach (var op in (string[])["!=", "<=", ">=", "=", "<", ">"])
        {
            if (string.CompareOrdinal(text, i, op, 0, op.Length) == 0)
            {
                i += op.Length;
                return op;
            }
        }

        return null;
    }

    /// <summary>Reads a value: a quoted string or a bare run up to whitespace, ')', '&amp;', '|', ',' or ']'.</summary>
    internal static (string Value, bool Quoted) ReadValue(string text, ref int i)
    {
        if (i < text.Length && text[i] == '"')
        {
            var sb = new StringBuilder();
            i++;
            while (i < text.Length && text[i] != '"')
            {
                if (text[i] == '\\' && i + 1 < text.Length)
                {
                    i++;
                }

                sb.Append(text[i++]);
            }

            if (i >= text.Length)
            {
                throw new FilterPatternException("Invalid filter pattern: unterminated quoted value.");
            }

            i++;
            return (sb.ToString(), true);
        }

        var start = i;
        while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] is not (')' or '&' or '|' or ',' or ']'))
        {
            i++;
        }

        if (i == start)
        {
            throw new FilterPatternException("Invalid filter pattern: a comparison needs a value.");
        }

        return (text[start..i], false);
    }

    private sealed class JsonPatternParser(string text)
    {
        private int _i;

        public static JsonElement? TryParseJson(string message)
        {
            var trimmed = message.AsSpan().TrimStart();
            if (trimmed.IsEmpty || trimmed[0] is not ('{' or '['))
            {
                return null;
            }

            try
            {
                using var doc = JsonDocument.Parse(message);
                return doc.RootElement.Clone();
            }
            catch (JsonException)
            {
                return null;
            }
        }

        public Func<JsonElement, bool> ParseAll()
        {
            var predicate = ParseOr();
            SkipSpace();
            if (_i != text.Length)
            {
                throw new FilterPatternException($"Invalid JSON filter pattern near '{text[_i..]}'.");
            }

            return predicate;
        }

        private void SkipSpace()
        {
            while (_i < text.Length && char.IsWhiteSpace(text[_i]))
            {
                _i++;
            }
        }

        private bool Take(string token)
        {
            SkipSpace();
            if (string.CompareOrdinal(text, _i, token, 0, token.Length) == 0)
            {
                _i += token.Length;
                return true;
            }

            return false;
        }

        private bool TakeWord(string word)
        {
            SkipSpace();
            if (_i + word.Length <= text.Length && string.Compare(text, _i, word, 0, word.Length, StringComparison.OrdinalIgnoreCase) == 0
                && (_i + word.Length == text.Length || !char.IsLetterOrDigit(text[_i + word.Length])))
            {
                _i += word.Length;
                return true;
            }

            return false;
        }

        private Func<JsonElement, bool> ParseOr()
        {
            var left = ParseAnd();
            while (Take("||"))
            {
                var l = left;
                var right = ParseAnd();
                left = doc => l(doc) || right(doc);
            }

            return left;
        }

        private Func<JsonElement, bool> ParseAnd()
        {
            var left = ParseUnary();
            while (Take("&&"))
            {
                var l = left;
                var right = ParseUnary();
                left = doc => l(doc) && right(doc);
            }

            return left;
        }

        private Func<JsonElement, bool> ParseUnary()
        {
            if (Take("("))
            {
                var inner = ParseOr();
                if (!Take(")"))
                {
                    throw new FilterPatternException("Invalid JSON filter pattern: missing ')'.");
                }

                return inner;
            }

            var path = ParseSelector();
            if (TakeWord("IS"))
            {
                if (TakeWord("TRUE"))
                {
                    return doc => Select(doc, path) is { ValueKind: JsonValueKind.True };
                }

                if (TakeWord("FALSE"))
                {
                    return doc => Select(doc, path) is { ValueKind: JsonValueKind.False };
                }

                if (TakeWord("NULL"))
                {
                    return doc => Select(doc, path) is { ValueKind: JsonValueKind.Null };
                }

                throw new FilterPatternException("Invalid JSON filter pattern: IS takes TRUE, FALSE or NULL.");
            }

            if (TakeWord("NOT"))
            {
                if (!TakeWord("EXISTS"))
                {
                    throw new FilterPatternException("Invalid JSON filter pattern: NOT takes EXISTS.");
                }

                return doc => Select(doc, path) is null;
            }

            if (TakeWord("EXISTS"))
            {
                return doc => Select(doc, path) is not null;
            }

            SkipSpace();
            var op = ReadOperator(text, ref _i) ?? throw new FilterPatternException("Invalid JSON filter pattern: expected a comparison operator.");
            SkipSpace();
            var (value, quoted) = ReadValue(text, ref _i);
            if (!quoted && op is not ("=" or "!=") && !double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out _))
            {
                throw new FilterPatternException($"Invalid JSON filter pattern: '{op}' needs a numeric value.");
            }

            return doc =>
            {
                if (Select(doc, path) is not { } field)
                {
                    return false;
                }

                var (fieldText, fieldNumber) = field.ValueKind switch
                {
                    JsonValueKind.String => (field.GetString(), (double?)null),
                    JsonValueKind.Number => (field.GetRawText(), field.GetDouble()),
                    JsonValueKind.True => ("true", null),
                    JsonValueKind.False => ("false", null),
                    JsonValueKind.Null => ("null", null),
                    _ => ((string?)null, (double?)null),
                };
                return Compare(op, fieldText, fieldNumber, value, quoted);
            };
        }

        /// <summary>Reads <c>$.a.b[0].c</c> into its steps (string names and int indexes).</summary>
        private List<object> ParseSelector()
        {
            SkipSpace();
            if (_i >= text.Length || text[_i] != '$')
            {
                throw new FilterPatternException("Invalid JSON filter pattern: a selector starts with '$'.");
            }

            _i++;
            var path = new List<object>();
            while (_i < text.Length)
            {
                if (text[_i] == '.')
                {
                    var start = ++_i;
                    while (_i < text.Length && (char.IsLetterOrDigit(text[_i]) || text[_i] is '_' or '-' or '@' or ':'))
                    {
                        _i++;
                    }

                    if (_i == start)
                    {
                        throw new FilterPatternException("Invalid JSON filter pattern: empty field name in selector.");
                    }

                    path.Add(text[start.._i]);
                }
                else if (text[_i] == '[')
                {
                    var end = text.IndexOf(']', _i);
                    if (end < 0 || !int.TryParse(text.AsSpan(_i + 1, end - _i - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index))
                    {
                        throw new FilterPatternException("Invalid JSON filter pattern: array index must be a number.");
                    }

                    path.Add(index);
                    _i = end + 1;
                }
                else
                {
                    break;
                }
            }

            return path;
        }

        private static JsonElement? Select(JsonElement doc, List<object> path)
        {
            var current = doc;
            foreach (var step in path)
            {
                if (step is string name)
                {
                    if (current.ValueKind != JsonValueKind.Object || !current.TryGetProperty(name, out current))
                    {
                        return null;
                    }
                }
                else
                {
                    var index = (int)step;
                    if (current.ValueKind != JsonValueKind.Array || index >= current.GetArrayLength())
                    {
                        return null;
                    }

                    current = current[index];
                }
            }

            return current;
        }
    }

    /// <summary>
    /// <c>[a, b = x*, ..., c &gt; 5]</c>: a message's space-separated fields (quoted "..." and [...] groups count as
    /// one) are bound to the names in order; <c>...</c> takes any number of fields.
    /// </summary>
    private static class SpaceDelimited
    {
        private sealed record Field(bool Ellipsis, string? Op, string? Value, bool Quoted);

        public static Func<string, bool> Compile(string body)
        {
            var fields = new List<Field>();
            foreach (var raw in SplitTopLevel(body))
            {
                var part = raw.Trim();
                if (part.Length == 0)
                {
                    throw new FilterPatternException("Invalid space-delimited filter pattern: empty field.");
                }

                if (part == "...")
                {
                    fields.Add(new Field(true, null, null, false));
                    continue;
                }

                var i = 0;
                while (i < part.Length && (char.IsLetterOrDigit(part[i]) || part[i] is '_' or '$'))
                {
                    i++;
                }

                while (i < part.Length && char.IsWhiteSpace(part[i]))
                {
                    i++;
                }

                if (i == part.Length)
                {
                    fields.Add(new Field(false, null, null, false));
                    continue;
                }

                var op = ReadOperator(part, ref i) ?? throw new FilterPatternException($"Invalid space-delimited filter pattern near '{part}'.");
                while (i < part.Length && char.IsWhiteSpace(part[i]))
                {
                    i++;
                }

                var (value, quoted) = ReadValue(part, ref i);
                fields.Add(new Field(false, op, value, quoted));
            }

            return message => Match(fields, 0, Tokenize(message), 0);
        }

        private static bool Match(List<Field> fields, int f, List<string> tokens, int t)
        {
            if (f == fields.Count)
            {
                return t == tokens.Count;
            }

            var field = fields[f];
            if (field.Ellipsis)
            {
                for (var skip = t; skip <= tokens.Count; skip++)
                {
                    if (Match(fields, f + 1, tokens, skip))
                    {
                        return true;
                    }
                }

                return false;
            }

            if (t >= tokens.Count)
            {
                return false;
            }

            if (field.Op is not null)
            {
                var token = tokens[t];
                double? number = double.TryParse(token, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : null;
                if (!Compare(field.Op, token, number, field.Value!, field.Quoted))
                {
                    return false;
                }
            }

            return Match(fields, f + 1, tokens, t + 1);
        }

        private static IEnumerable<string> SplitTopLevel(string body)
        {
            var start = 0;
            var quoted = false;
            for (var i = 0; i < body.Length; i++)
            {
                if (body[i] == '"')
                {
                    quoted = !quoted;
                }
                else if (body[i] == ',' && !quoted)
                {
                    yield return body[start..i];
                    start = i + 1;
                }
            }

            yield return body[start..];
        }

        private static List<string> Tokenize(string message)
        {
            var tokens = new List<string>();
            var i = 0;
            while (i < message.Length)
            {
                if (char.IsWhiteSpace(message[i]))
                {
                    i++;
                    continue;
                }

                var close = message[i] switch { '"' => '"', '[' => ']', _ => '\0' };
                if (close != '\0')
                {
                    var end = message.IndexOf(close, i + 1);
                    if (end > 0)
                    {
                        tokens.Add(message[(i + 1)..end]);
                        i = end + 1;
                        continue;
                    }
                }

                var start = i;
                while (i < message.Length && !char.IsWhiteSpace(message[i]))
                {
                    i++;
                }

                tokens.Add(message[start..i]);
            }

            return tokens;
        }
    }
}
