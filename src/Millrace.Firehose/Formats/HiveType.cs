using System.Globalization;

namespace Millrace.Firehose.Formats;

public enum HiveKind
{
    String,
    Varchar,
    Char,
    Boolean,
    TinyInt,
    SmallInt,
    Int,
    BigInt,
    Float,
    Double,
    Decimal,
    Date,
    Timestamp,
    Binary,
    Array,
    Map,
    Struct,
}

/// <summary>A field of a Hive struct type (name folded to lower case, as Hive does).</summary>
public sealed record HiveField(string Name, HiveType Type);

/// <summary>
/// A parsed Hive type: primitives (with varchar/char length and decimal precision/scale) and the nested
/// <c>array&lt;T&gt;</c>, <c>map&lt;K,V&gt;</c> and <c>struct&lt;a:T,...&gt;</c>.
/// </summary>
public sealed record HiveType(HiveKind Kind)
{
    public int Length { get; init; }

    public int Precision { get; init; }

    public int Scale { get; init; }

    public HiveType? Element { get; init; }

    public HiveType? Key { get; init; }

    public HiveType? Value { get; init; }

    public IReadOnlyList<HiveField> Fields { get; init; } = [];

    /// <summary>Parses a Glue column type; an unknown or malformed type throws <see cref="FormatConversionException"/> (InvalidSchema).</summary>
    public static HiveType Parse(string text)
    {
        var parser = new Parser(text);
        var type = parser.Type();
        parser.End();
        return type;
    }

    private ref struct Parser(string text)
    {
        private readonly string _text = text;
        private int _at;

        public HiveType Type()
        {
            var word = Word().ToLowerInvariant();
            switch (word)
            {
                case "string":
                    return new HiveType(HiveKind.String);
                case "varchar":
                case "char":
                    Expect('(');
                    var length = Number();
                    Expect(')');
                    if (length < 1 || length > (word == "char" ? 255 : 65535))
                    {
                        throw Invalid($"{word} length {length} is out of range");
                    }

                    return new HiveType(word == "char" ? HiveKind.Char : HiveKind.Varchar) { Length = length };
                case "boolean":
                    return new HiveType(HiveKind.Boolean);
                case "tinyint":
                    return new HiveType(HiveKind.TinyInt);
                case "smallint":
                    return new HiveType(HiveKind.SmallInt);
                case "int":
                case "integer":
                    return new HiveType(HiveKind.Int);
                case "bigint":
                    return new HiveType(HiveKind.BigInt);
                case "float":
                    return new HiveType(HiveKind.Float);
                case "double":
                    return new HiveType(HiveKind.Double);
                case "decimal":
                case "numeric":
                    // Hive's decimal without arguments is decimal(10,0).
                    int precision = 10, scale = 0;
                    if (Peek('('))
                    {
                        Expect('(');
                        precision = Number();
                        if (Peek(','))
                        {
                            Expect(',');
                            scale = Number();
                        }

                        Expect(')');
                    }

                    if (precision < 1 || precision > 38 || scale < 0 || scale > precision)
                    {
                        throw Invalid($"decimal({precision},{scale}) is out of range (precision 1 to 38, scale 0 to precision)");
                    }

                    return new HiveType(HiveKind.Decimal) { Precision = precision, Scale = scale };
                case "date":
                    return new HiveType(HiveKind.Date);
                case "timestamp":
                    return new HiveType(HiveKind.Timestamp);
                case "binary":
                    return new HiveType(HiveKind.Binary);
                case "array":
                    Expect('<');
                    var element = Type();
                    Expect('>');
                    return new HiveType(HiveKind.Array) { Element = element };
                case "map":
                    Expect('<');
                    var key = Type();
                    Expect(',');
                    var value = Type();
                    Expect('>');
                    if (key.Kind is HiveKind.Array or HiveKind.Map or HiveKind.Struct)
                    {
                        throw Invalid("a map key must be a primitive type");
                    }

                    return new HiveType(HiveKind.Map) { Key = key, Value = value };
                case "struct":
                    Expect('<');
                    var fields = new List<HiveField>();
                    do
                    {
                        var name = Word().ToLowerInvariant();
                        Expect(':');
                        fields.Add(new HiveField(name, Type()));
                    }
                    while (TryTake(','));
                    Expect('>');
                    if (fields.Select(f => f.Name).Distinct(StringComparer.Ordinal).Count() != fields.Count)
                    {
                        throw Invalid("a struct has two fields with the same name");
                    }

                    return new HiveType(HiveKind.Struct) { Fields = fields };
                case "":
                    throw Invalid("a type is missing");
                default:
                    throw Invalid($"type {word} is not supported");
            }
        }

        public void End()
        {
            SkipSpaces();
            if (_at != _text.Length)
            {
                throw Invalid($"unexpected '{_text[_at]}' at position {_at}");
            }
        }

        private string Word()
        {
            SkipSpaces();
            var start = _at;
            while (_at < _text.Length && (char.IsAsciiLetterOrDigit(_text[_at]) || _text[_at] is '_' or '$'))
            {
                _at++;
            }

            // Struct field names may be backquoted (struct<`my field`:int>).
            if (start == _at && _at < _text.Length && _text[_at] == '`')
            {
                var close = _text.IndexOf('`', _at + 1);
                if (close < 0)
                {
                    throw Invalid("an unclosed ` quote");
                }

                _at = close + 1;
                return _text[(start + 1)..close];
            }

            return _text[start.._at];
        }

        private int Number()
        {
            var word = Word();
            return int.TryParse(word, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : throw Invalid($"'{word}' is not a number");
        }

        private bool Peek(char c)
        {
            SkipSpaces();
            return _at < _text.Length && _text[_at] == c;
        }

        private bool TryTake(char c)
        {
            if (!Peek(c))
            {
                return false;
            }

            _at++;
            return true;
        }

        private void Expect(char c)
        {
            if (!TryTake(c))
            {
                throw Invalid(_at < _text.Length ? $"expected '{c}' at position {_at}, found '{_text[_at]}'" : $"expected '{c}' at the end");
            }
        }

        private void SkipSpaces()
        {
            while (_at < _text.Length && char.IsWhiteSpace(_text[_at]))
            {
                _at++;
            }
        }

        private readonly FormatConversionException Invalid(string why) =>
            new("DataFormatConversion.InvalidSchema", $"The schema is invalid. Column type '{_text}': {why}.");
    }
}
