using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;

namespace Millrace.Firehose.Redshift;

/// <summary>A target column as the loader sees it.</summary>
internal sealed record TargetColumn(string Name, bool IsString, bool IsDateTime, int? MaxLength);

/// <summary>
/// Turns one staged S3 object into rows of column values (null = SQL NULL) the way Redshift's COPY reads it. Rows
/// that cannot be read are reported as errors for MAXERROR to count.
/// </summary>
internal sealed class StagedObjectParser(RedshiftCopyOptions options, IReadOnlyList<TargetColumn> columns)
{
    private static readonly UTF8Encoding s_strictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public sealed record Result(List<string?[]> Rows, List<string> Errors);

    public Result Parse(ReadOnlyMemory<byte> stagedObject, int objectNumber)
    {
        var rows = new List<string?[]>();
        var errors = new List<string>();
        byte[] bytes;
        try
        {
            bytes = options.Gzip ? Gunzip(stagedObject) : stagedObject.ToArray();
        }
        catch (InvalidDataException ex)
        {
            errors.Add($"object {objectNumber}: GZIP was given but the object is not gzip data ({ex.Message})");
            return new Result(rows, errors);
        }

        string text;
        try
        {
            text = s_strictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            if (options.AcceptInvChars is null)
            {
                errors.Add($"object {objectNumber}: invalid UTF-8 (use ACCEPTINVCHARS to replace invalid characters)");
                return new Result(rows, errors);
            }

            text = Encoding.UTF8.GetString(bytes).Replace("\uFFFD", options.AcceptInvChars, StringComparison.Ordinal);
            bytes = Encoding.UTF8.GetBytes(text);
        }

        switch (options.Format)
        {
            case CopyDataFormat.Json:
                ParseJson(bytes, objectNumber, rows, errors);
                break;
            case CopyDataFormat.Csv:
                ParseDelimited(text, objectNumber, csv: true, rows, errors);
                break;
            default:
                ParseDelimited(text, objectNumber, csv: false, rows, errors);
                break;
        }

        return new Result(rows, errors);
    }

    private static byte[] Gunzip(ReadOnlyMemory<byte> data)
    {
        using var input = new MemoryStream(data.ToArray());
        using var gzip = new GZipStream(input, CompressionMode.Decompress);
        using var output = new MemoryStream();
        gzip.CopyTo(output);
        return output.ToArray();
    }

    private void ParseJson(byte[] bytes, int objectNumber, List<string?[]> rows, List<string> errors)
    {
        var comparison = options.JsonIgnoreCase ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;
        var index = new Dictionary<string, int>(comparison);
        for (var c = 0; c < columns.Count; c++)
        {
            index.TryAdd(columns[c].Name, c);
        }

        // Firehose concatenates records, with or without separators: a stream of JSON values.
        var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { AllowMultipleValues = true, CommentHandling = JsonCommentHandling.Skip });
        var record = 0;
        try
        {
            // Bounded by the input: each pass consumes one top-level value.
            while (reader.Read())
            {
                record++;
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    errors.Add($"object {objectNumber}, record {record}: a JSON record must be an object, not {reader.TokenType}");
                    reader.Skip();
                    continue;
                }

                var row = new string?[columns.Count];
                while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
                {
                    var name = reader.GetString()!;
                    reader.Read();
                    string? value;
                    switch (reader.TokenType)
                    {
                        case JsonTokenType.String:
                            value = reader.GetString();
                            break;
                        case JsonTokenType.Number:
                            value = Encoding.UTF8.GetString(reader.ValueSpan);
                            break;
                        case JsonTokenType.True:
                            value = "true";
                            break;
                        case JsonTokenType.False:
                            value = "false";
                            break;
                        case JsonTokenType.Null:
                            value = null;
                            break;
                        default:
                            // Nested objects and arrays load as their JSON text, as into a VARCHAR or SUPER column.
                            var start = (int)reader.TokenStartIndex;
                            reader.Skip();
                            value = Encoding.UTF8.GetString(bytes, start, (int)reader.BytesConsumed - start);
                            break;
                    }

                    if (index.TryGetValue(name, out var c))
                    {
                        row[c] = value;
                    }
                }

                rows.Add(Finish(row));
            }
        }
        catch (JsonException ex)
        {
            errors.Add($"object {objectNumber}, record {record}: invalid JSON ({ex.Message})");
        }
    }

    private void ParseDelimited(string text, int objectNumber, bool csv, List<string?[]> rows, List<string> errors)
    {
        var pos = 0;
        var line = 0;
        var fields = new List<(string Value, bool Quoted)>();
        var field = new StringBuilder();
        // Bounded by the text: every record consumes at least its line end.
        while (pos < text.Length)
        {
            line++;
            fields.Clear();
            var endOfRecord = false;
            while (!endOfRecord)
            {
                field.Clear();
                var quoted = false;
                if (csv && pos < text.Length && text[pos] == options.Quote)
                {
                    quoted = true;
                    pos++;
                    while (pos < text.Length)
                    {
                        if (text[pos] == options.Quote)
                        {
                            if (pos + 1 < text.Length && text[pos + 1] == options.Quote)
                            {
                                field.Append(options.Quote);
                                pos += 2;
                                continue;
                            }

                            pos++;
                            break;
                        }

                        field.Append(text[pos++]);
                    }
                }

                // The unquoted rest of the field (all of it when not quoted).
                while (pos < text.Length && text[pos] != options.Delimiter && text[pos] != '\n')
                {
                    if (csv && text[pos] == '\r' && (pos + 1 >= text.Length || text[pos + 1] == '\n'))
                    {
                        // CRLF line ends are common in CSV; the CR is not data.
                        pos++;
                        continue;
                    }

                    if (!csv && options.Escape && text[pos] == '\\' && pos + 1 < text.Length)
                    {
                        field.Append(text[pos + 1]);
                        pos += 2;
                        continue;
                    }

                    field.Append(text[pos++]);
                }

                if (pos >= text.Length || text[pos] == '\n')
                {
                    endOfRecord = true;
                }

                pos++;
                fields.Add((field.ToString(), quoted));
            }

            if (line <= options.IgnoreHeader)
            {
                continue;
            }

            if (options.IgnoreBlankLines && fields.Count == 1 && fields[0].Value.Length == 0 && !fields[0].Quoted)
            {
                continue;
            }

            if (fields.Count > columns.Count)
            {
                errors.Add($"object {objectNumber}, line {line}: Extra column(s) found ({fields.Count} fields for {columns.Count} columns)");
                continue;
            }

            if (fields.Count < columns.Count && !options.FillRecord)
            {
                errors.Add($"object {objectNumber}, line {line}: Delimiter not found ({fields.Count} fields for {columns.Count} columns)");
                continue;
            }

            var row = new string?[columns.Count];
            for (var c = 0; c < columns.Count; c++)
            {
                if (c >= fields.Count)
                {
                    row[c] = "";
                    continue;
                }

                var (value, isQuoted) = fields[c];
                row[c] = !isQuoted && options.NullAs is not null && value == options.NullAs ? null : value;
            }

            rows.Add(Finish(row, fields));
        }
    }

    /// <summary>Redshift's empty, blank and length rules, applied per target column.</summary>
    private string?[] Finish(string?[] row, List<(string Value, bool Quoted)>? fields = null)
    {
        for (var c = 0; c < row.Length; c++)
        {
            var value = row[c];
            if (value is null)
            {
                continue;
            }

            var column = columns[c];
            if (!column.IsString)
            {
                // Empty and blank fields load as NULL for every non-character type.
                if (string.IsNullOrWhiteSpace(value))
                {
                    row[c] = null;
                }
                else if (column.IsDateTime && options.TimeFormat != CopyTimeFormat.Auto)
                {
                    row[c] = Epoch(value);
                }

                continue;
            }

            var quoted = fields is not null && c < fields.Count && fields[c].Quoted;
            if (options.EmptyAsNull && value.Length == 0 && !quoted)
            {
                row[c] = null;
                continue;
            }

            if (options.BlanksAsNull && value.Length > 0 && string.IsNullOrWhiteSpace(value))
            {
                row[c] = null;
                continue;
            }

            if (options.TrimBlanks)
            {
                value = value.TrimEnd(' ');
            }

            if (options.TruncateColumns && column.MaxLength is { } max && value.Length > max)
            {
                value = value[..max];
            }

            row[c] = value;
        }

        return row;
    }

    private string Epoch(string value)
    {
        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            // Left as is: PostgreSQL reports the bad value and the load fails.
            return value;
        }

        var millis = options.TimeFormat == CopyTimeFormat.EpochSeconds ? number * 1000 : number;
        return DateTimeOffset.UnixEpoch.AddMilliseconds(millis).ToString("yyyy-MM-dd HH:mm:ss.fff'+00'", CultureInfo.InvariantCulture);
    }
}
