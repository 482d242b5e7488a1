using System.Globalization;
using System.Text;

namespace Millrace.Firehose.Redshift;

internal enum CopyDataFormat
{
    /// <summary>Redshift's default: delimited text, '|' between fields.</summary>
    Text,
    Csv,
    Json,
}

internal enum CopyTimeFormat
{
    Auto,
    EpochSeconds,
    EpochMilliseconds,
}

/// <summary>
/// The Redshift COPY options Millrace understands, parsed from <see cref="CopyCommand.CopyOptions"/>. Options that
/// only tune Redshift itself (REGION, COMPUPDATE, STATUPDATE, MANIFEST, ...) are accepted and have no effect.
/// </summary>
internal sealed class RedshiftCopyOptions
{
    public CopyDataFormat Format { get; private set; } = CopyDataFormat.Text;
    public bool JsonIgnoreCase { get; private set; }
    public char Delimiter { get; private set; } = '|';
    public char Quote { get; private set; } = '"';
    public bool Gzip { get; private set; }
    public int IgnoreHeader { get; private set; }
    public string? NullAs { get; private set; }
    public bool EmptyAsNull { get; private set; }
    public bool BlanksAsNull { get; private set; }
    public bool TruncateColumns { get; private set; }
    public bool TrimBlanks { get; private set; }
    public bool FillRecord { get; private set; }
    public bool IgnoreBlankLines { get; private set; }
    public bool Escape { get; private set; }
    public int MaxError { get; private set; }
    public string? AcceptInvChars { get; private set; }
    public CopyTimeFormat TimeFormat { get; private set; } = CopyTimeFormat.Auto;

    /// <summary>Parses the options; throws <see cref="CopyOptionsException"/> with Firehose's error code on bad input.</summary>
    public static RedshiftCopyOptions Parse(string? text)
    {
        var options = new RedshiftCopyOptions();
        var tokens = Tokenize(text ?? "");
        var explicitDelimiter = false;
        var explicitQuote = false;
        var i = 0;
        // Bounded by the token count: every branch consumes at least one token.
        while (i < tokens.Count)
        {
            var token = tokens[i++];
            if (token.Quoted)
            {
                throw Syntax($"unexpected string '{token.Text}'");
            }

            switch (token.Text.ToUpperInvariant())
            {
                case "FORMAT":
                    SkipAs(tokens, ref i);
                    if (i >= tokens.Count)
                    {
                        throw Syntax("FORMAT needs a format");
                    }

                    var format = tokens[i++];
                    switch (format.Text.ToUpperInvariant())
                    {
                        case "JSON":
                            options.SetJson(tokens, ref i);
                            break;
                        case "CSV":
                            options.SetFormat(CopyDataFormat.Csv);
                            break;
                        default:
                            throw Unsupported($"FORMAT AS {format.Text}");
                    }

                    break;
                case "JSON":
                    options.SetJson(tokens, ref i);
                    break;
                case "CSV":
                    options.SetFormat(CopyDataFormat.Csv);
                    if (Peek(tokens, i, "QUOTE"))
                    {
                        i++;
                        options.Quote = SingleChar(String(tokens, ref i, "QUOTE"), "QUOTE");
                        explicitQuote = true;
                    }

                    break;
                case "QUOTE":
                    options.Quote = SingleChar(String(tokens, ref i, "QUOTE"), "QUOTE");
                    explicitQuote = true;
                    break;
                case "DELIMITER":
                    options.Delimiter = SingleChar(String(tokens, ref i, "DELIMITER"), "DELIMITER");
                    explicitDelimiter = true;
                    break;
                case "GZIP":
                    options.Gzip = true;
                    break;
                case "IGNOREHEADER":
                    options.IgnoreHeader = Number(tokens, ref i, "IGNOREHEADER");
                    break;
                case "MAXERROR":
                    options.MaxError = Number(tokens, ref i, "MAXERROR");
                    break;
                case "NULL":
                    options.NullAs = String(tokens, ref i, "NULL AS");
                    break;
                case "EMPTYASNULL":
                    options.EmptyAsNull = true;
                    break;
                case "BLANKSASNULL":
                    options.BlanksAsNull = true;
                    break;
                case "TRUNCATECOLUMNS":
                    options.TruncateColumns = true;
                    break;
                case "TRIMBLANKS":
                    options.TrimBlanks = true;
                    break;
                case "FILLRECORD":
                    options.FillRecord = true;
                    break;
                case "IGNOREBLANKLINES":
                    options.IgnoreBlankLines = true;
                    break;
                case "ESCAPE":
                    options.Escape = true;
                    break;
                case "ACCEPTINVCHARS":
                    options.AcceptInvChars = "?";
                    if (Peek(tokens, i, "AS") || (i < tokens.Count && tokens[i].Quoted))
                    {
                        options.AcceptInvChars = SingleChar(String(tokens, ref i, "ACCEPTINVCHARS"), "ACCEPTINVCHARS").ToString();
                    }

                    break;
                case "TIMEFORMAT":
                    options.TimeFormat = String(tokens, ref i, "TIMEFORMAT").ToLowerInvariant() switch
                    {
                        "auto" => CopyTimeFormat.Auto,
                        "epochsecs" => CopyTimeFormat.EpochSeconds,
                        "epochmillisecs" => CopyTimeFormat.EpochMilliseconds,
                        var f => throw Unsupported($"TIMEFORMAT '{f}' (Millrace takes 'auto', 'epochsecs' and 'epochmillisecs')"),
                    };
                    break;
                case "DATEFORMAT":
                    var dateFormat = String(tokens, ref i, "DATEFORMAT");
                    if (!dateFormat.Equals("auto", StringComparison.OrdinalIgnoreCase))
                    {
                        throw Unsupported($"DATEFORMAT '{dateFormat}' (Millrace takes 'auto')");
                    }

                    break;
                case "ENCODING":
                    SkipAs(tokens, ref i);
                    if (i >= tokens.Count || !tokens[i++].Text.Equals("UTF8", StringComparison.OrdinalIgnoreCase))
                    {
                        throw Unsupported("ENCODING other than UTF8");
                    }

                    break;
                case "REGION":
                    String(tokens, ref i, "REGION");
                    break;
                case "COMPUPDATE" or "STATUPDATE":
                    if (i < tokens.Count && tokens[i].Text.ToUpperInvariant() is "ON" or "OFF" or "TRUE" or "FALSE" or "PRESET")
                    {
                        i++;
                    }

                    break;
                case "MANIFEST" or "ACCEPTANYDATE" or "EXPLICIT_IDS" or "ROUNDEC":
                    break;
                case "FIXEDWIDTH" or "AVRO" or "PARQUET" or "ORC" or "SHAPEFILE" or "BZIP2" or "LZOP" or "ZSTD" or "JSONPATHS"
                    or "REMOVEQUOTES" or "NOLOAD" or "READRATIO" or "IGNOREALLERRORS" or "SERIALIZETOJSON":
                    throw Unsupported(token.Text.ToUpperInvariant());
                default:
                    throw Syntax($"unknown COPY option '{token.Text}'");
            }
        }

        if (options.Format == CopyDataFormat.Csv)
        {
            if (!explicitDelimiter)
            {
                options.Delimiter = ',';
            }

            if (options.Escape)
            {
                throw Conflict("ESCAPE cannot be used with CSV");
            }
        }
        else if (explicitQuote)
        {
            throw Conflict("QUOTE AS needs CSV");
        }

        if (options.Format == CopyDataFormat.Json && (explicitDelimiter || options.Escape || options.FillRecord))
        {
            throw Conflict("DELIMITER, ESCAPE and FILLRECORD cannot be used with JSON");
        }

        if (options.Format == CopyDataFormat.Text)
        {
            options.NullAs ??= "\\N";
        }

        return options;
    }

    private void SetJson(List<Token> tokens, ref int i)
    {
        SetFormat(CopyDataFormat.Json);
        SkipAs(tokens, ref i);
        if (i >= tokens.Count || !tokens[i].Quoted)
        {
            // Redshift's JSON with no argument means 'auto'.
            return;
        }

        var argument = string.Join(' ', tokens[i++].Text.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToLowerInvariant();
        JsonIgnoreCase = argument switch
        {
            "auto" => false,
            "auto ignorecase" => true,
            _ => throw Unsupported($"JSON '{argument}' (Millrace takes 'auto' and 'auto ignorecase'; no jsonpaths files)"),
        };
    }

    private void SetFormat(CopyDataFormat format)
    {
        if (Format != CopyDataFormat.Text && Format != format)
        {
            throw Conflict($"{Format.ToString().ToUpperInvariant()} and {format.ToString().ToUpperInvariant()} cannot both be used");
        }

        Format = format;
    }

    private readonly record struct Token(string Text, bool Quoted);

    private static List<Token> Tokenize(string text)
    {
        var tokens = new List<Token>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c) || c == ',' || c == ';')
            {
                i++;
                continue;
            }

            if (c == '\'')
            {
                var value = new StringBuilder();
                i++;
                var closed = false;
                while (i < text.Length)
                {
                    if (text[i] == '\\' && i + 1 < text.Length)
                    {
                        value.Append(text[i + 1]);
                        i += 2;
                    }
                    else if (text[i] == '\'' && i + 1 < text.Length && text[i + 1] == '\'')
                    {
                        value.Append('\'');
                        i += 2;
                    }
                    else if (text[i] == '\'')
                    {
                        i++;
                        closed = true;
                        break;
                    }
                    else
                    {
                        value.Append(text[i++]);
                    }
                }

                if (!closed)
                {
                    throw Syntax("unterminated quoted string");
                }

                tokens.Add(new Token(value.ToString(), true));
                continue;
            }

            var start = i;
            while (i < text.Length && !char.IsWhiteSpace(text[i]) && text[i] != '\'' && text[i] != ',' && text[i] != ';')
            {
                i++;
            }

            tokens.Add(new Token(text[start..i], false));
        }

        return tokens;
    }

    private static bool Peek(List<Token> tokens, int i, string word) =>
        i < tokens.Count && !tokens[i].Quoted && tokens[i].Text.Equals(word, StringComparison.OrdinalIgnoreCase);

    private static void SkipAs(List<Token> tokens, ref int i)
    {
        if (Peek(tokens, i, "AS"))
        {
            i++;
        }
    }

    private static string String(List<Token> tokens, ref int i, string option)
    {
        SkipAs(tokens, ref i);
        if (i >= tokens.Count || !tokens[i].Quoted)
        {
            throw Syntax($"{option} needs a quoted value");
        }

        return tokens[i++].Text;
    }

    private static int Number(List<Token> tokens, ref int i, string option)
    {
        SkipAs(tokens, ref i);
        if (i >= tokens.Count || tokens[i].Quoted || !int.TryParse(tokens[i].Text, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
        {
            throw Syntax($"{option} needs a non-negative number");
        }

        i++;
        return n;
    }

    private static char SingleChar(string value, string option)
    {
        if (value.Length != 1)
        {
            throw Unsupported($"{option} '{value}' (Millrace takes a single character)");
        }

        return value[0];
    }

    private static CopyOptionsException Syntax(string detail) =>
        new(RedshiftErrorCodes.SyntaxError, $"The COPY command contains a syntax error: {detail}.");

    private static CopyOptionsException Conflict(string detail) =>
        new(RedshiftErrorCodes.IncorrectCopyOptions, $"Conflicting or redundant COPY options were provided: {detail}.");

    private static CopyOptionsException Unsupported(string option) =>
        new(RedshiftErrorCodes.IncorrectCopyOptions, $"The COPY option {option} is not supported by Millrace's PostgreSQL stand-in for Redshift.");
}

internal sealed class CopyOptionsException(string errorCode, string message) : Exception(message)
{
    public string ErrorCode { get; } = errorCode;
}
