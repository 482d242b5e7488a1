using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Gateway;
using Millrace.Protocol.Wire;
using Parquet;
using Parquet.Schema;

namespace Millrace.Firehose.Formats;

/// <summary>A conversion that cannot run for any record (e.g. an invalid schema), with the error code Firehose reports.</summary>
internal sealed class FormatConversionException(string errorCode, string message) : Exception(message)
{
    public string ErrorCode { get; } = errorCode;
}

/// <summary>
/// A delivery stream's DataFormatConversionConfiguration (JSON to Apache Parquet): the Glue table the schema comes
/// from, the JSON deserializer and the ParquetSerDe's settings Millrace honours (compression, dictionary encoding,
/// block size as the row group size).
/// </summary>
internal sealed record FormatConversionSettings(
    string? CatalogId,
    string DatabaseName,
    string TableName,
    string VersionId,
    string? Region,
    JsonDeserializer Deserializer,
    CompressionMethod Compression,
    bool DictionaryEncoding)
{
    /// <summary>Parses the configuration; AWS's rules as InvalidArgumentException (via <paramref name="invalid"/>).</summary>
    public static FormatConversionSettings Parse(JsonObject c, Func<string, Exception> invalid)
    {
        var schema = c["SchemaConfiguration"] as JsonObject;
        var database = ModelDocument.GetString(schema?["DatabaseName"]);
        var table = ModelDocument.GetString(schema?["TableName"]);
        if (string.IsNullOrEmpty(database) || string.IsNullOrEmpty(table))
        {
            throw invalid("SchemaConfiguration must name the Glue DatabaseName and TableName when DataFormatConversionConfiguration is enabled.");
        }

        var serializer = c["OutputFormatConfiguration"]?["Serializer"] as JsonObject;
        if (serializer?["OrcSerDe"] is not null)
        {
            throw invalid(serializer["ParquetSerDe"] is not null
                ? "Only one of OrcSerDe and ParquetSerDe may be specified in the Serializer."
                : "Apache ORC output (OrcSerDe) is not supported by Millrace: no maintained .NET ORC writer exists; use ParquetSerDe.");
        }

        if (serializer?["ParquetSerDe"] is not JsonObject parquet)
        {
            throw invalid("OutputFormatConfiguration.Serializer must specify ParquetSerDe when DataFormatConversionConfiguration is enabled.");
        }

        var deserializer = c["InputFormatConfiguration"]?["Deserializer"] as JsonObject;
        var openX = deserializer?["OpenXJsonSerDe"] as JsonObject;
        var hive = deserializer?["HiveJsonSerDe"] as JsonObject;
        if (openX is null == hive is null)
        {
            throw invalid("InputFormatConfiguration.Deserializer must specify exactly one of OpenXJsonSerDe and HiveJsonSerDe.");
        }

        JsonDeserializer reader = openX is not null
            ? new OpenXJsonDeserializer
            {
                CaseInsensitive = ModelDocument.GetBoolean(openX["CaseInsensitive"]) ?? true,
                ConvertDotsInJsonKeysToUnderscores = ModelDocument.GetBoolean(openX["ConvertDotsInJsonKeysToUnderscores"]) ?? false,
                ColumnToJsonKeyMappings = (openX["ColumnToJsonKeyMappings"] as JsonObject ?? [])
                    .ToDictionary(m => m.Key, m => m.Value!.GetValue<string>(), StringComparer.Ordinal),
            }
            : new HiveJsonDeserializer
            {
                TimestampFormats = (hive!["TimestampFormats"] as JsonArray ?? []).Select(f => f!.GetValue<string>()).ToList(),
            };
        if (reader is HiveJsonDeserializer h)
        {
            try
            {
                _ = h.TimestampFormats.Where(f => f != "millis").Select(RowReader.JodaToDotNet).ToList();
            }
            catch (FormatConversionException e)
            {
                throw invalid(e.Message);
            }
        }

        var compression = (ModelDocument.GetString(parquet["Compression"]) ?? "SNAPPY") switch
        {
            "UNCOMPRESSED" => CompressionMethod.None,
            "GZIP" => CompressionMethod.Gzip,
            _ => CompressionMethod.Snappy,
        };
        return new FormatConversionSettings(ModelDocument.GetString(schema!["CatalogId"]), database, table,
            ModelDocument.GetString(schema["VersionId"]) ?? "LATEST", ModelDocument.GetString(schema["Region"]), reader, compression,
            ModelDocument.GetBoolean(parquet["EnableDictionaryCompression"]) ?? false);
    }
}

/// <summary>
/// Converts JSON records to one Parquet file with the columns of a Glue table, as Firehose's ParquetSerDe (Hive's
/// layout: timestamps as INT96, decimals as fixed-length byte arrays, lists and maps in the standard 3-level form).
/// A record may hold several JSON objects one after another; each is a row. Records that cannot be read fail alone.
/// Rows are striped into columns here (Dremel's definition and repetition levels) and written with Parquet.Net's
/// column writer, because its untyped row serializer does not take every nesting Hive allows (e.g. maps of structs).
/// </summary>
internal sealed class ParquetConversion
{
    private readonly ParquetSchema _schema;
    private readonly List<Node> _columns;
    private readonly List<DataField> _leaves;
    private readonly RowReader _reader;
    private readonly ParquetOptions _options;

    public ParquetConversion(TableSchema table, FormatConversionSettings settings)
    {
        if (table.Columns.Count == 0)
        {
            throw new FormatConversionException("DataFormatConversion.InvalidSchema", $"The schema is invalid. The table {table.Database}.{table.Table} has no columns.");
        }

        var columns = table.Columns.Select(c => (Column: c.Name.ToLowerInvariant(), Type: HiveType.Parse(c.Type))).ToList();
        if (columns.Select(c => c.Column).Distinct(StringComparer.Ordinal).Count() != columns.Count)
        {
            throw new FormatConversionException("DataFormatConversion.InvalidSchema", $"The schema is invalid. The table {table.Database}.{table.Table} has two columns with the same name.");
        }

        _leaves = [];
        _columns = columns.Select(c => Node.Of(c.Column, c.Type, nullable: true, _leaves)).ToList();
        _schema = new ParquetSchema(_columns.Select(c => c.Field).ToArray());
        _reader = new RowReader(columns, settings.Deserializer);
        _options = new ParquetOptions
        {
            CompressionMethod = settings.Compression,
            DictionaryEncodingThreshold = settings.DictionaryEncoding ? 0.8 : 0,
        };
    }

    /// <summary>The rows read from <paramref name="data"/>, or the error (code, message) that sends the whole record to the error output.</summary>
    public (List<Dictionary<string, object?>>? Rows, string? ErrorCode, string? Error) Read(ReadOnlyMemory<byte> data)
    {
        var rows = new List<Dictionary<string, object?>>();
        try
        {
            var reader = new Utf8JsonReader(data.Span, new JsonReaderOptions { AllowMultipleValues = true, CommentHandling = JsonCommentHandling.Skip });
            while (reader.Read())
            {
                using var document = JsonDocument.ParseValue(ref reader);
                rows.Add(_reader.Read(document.RootElement));
            }
        }
        catch (JsonException e)
        {
            return (null, "DataFormatConversion.MalformedData", $"The record is not valid JSON: {e.Message}");
        }
        catch (MalformedDataException e)
        {
            return (null, "DataFormatConversion.MalformedData", e.Message);
        }

        return rows.Count == 0 ? (null, "DataFormatConversion.MalformedData", "The record holds no JSON object.") : (rows, null, null);
    }

    /// <summary>One Parquet file (one row group) holding <paramref name="rows"/>.</summary>
    public async Task<byte[]> WriteAsync(IReadOnlyCollection<Dictionary<string, object?>> rows, CancellationToken ct)
    {
        var stripes = _leaves.Select(_ => new Stripe()).ToArray();
        foreach (var row in rows)
        {
            foreach (var column in _columns)
            {
                column.Write(row.GetValueOrDefault(column.Field.Name), 0, 0, stripes);
            }
        }

        using var output = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(_schema, output, _options, cancellationToken: ct))
        {
            using var group = writer.CreateRowGroup();
            for (var i = 0; i < _leaves.Count; i++)
            {
                await stripes[i].WriteAsync(group, _leaves[i], ct);
            }
        }

        return output.ToArray();
    }

    /// <summary>One leaf column's values (defined ones only) and its definition and repetition levels.</summary>
    private sealed class Stripe
    {
        public List<object> Values { get; } = [];

        public List<int> Definitions { get; } = [];

        public List<int> Repetitions { get; } = [];

        public Task WriteAsync(ParquetRowGroupWriter group, DataField field, CancellationToken ct) => field.ClrType switch
        {
            var t when t == typeof(ReadOnlyMemory<char>) => Write<ReadOnlyMemory<char>>(group, field, ct),
            var t when t == typeof(ReadOnlyMemory<byte>) => Write<ReadOnlyMemory<byte>>(group, field, ct),
            var t when t == typeof(bool) => Write<bool>(group, field, ct),
            var t when t == typeof(sbyte) => Write<sbyte>(group, field, ct),
            var t when t == typeof(short) => Write<short>(group, field, ct),
            var t when t == typeof(int) => Write<int>(group, field, ct),
            var t when t == typeof(long) => Write<long>(group, field, ct),
            var t when t == typeof(float) => Write<float>(group, field, ct),
            var t when t == typeof(double) => Write<double>(group, field, ct),
            var t when t == typeof(decimal) => Write<decimal>(group, field, ct),
            var t when t == typeof(DateOnly) => Write<DateOnly>(group, field, ct),
            var t when t == typeof(DateTime) => Write<DateTime>(group, field, ct),
            var t => throw new InvalidOperationException($"No Parquet column writer for {t}."),
        };

        private Task Write<T>(ParquetRowGroupWriter group, DataField field, CancellationToken ct)
            where T : struct
        {
            var values = new T[Values.Count];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = (T)Values[i];
            }

            return group.WriteAllPartsAsync<T>(field, values, field.MaxDefinitionLevel > 0 ? Definitions.ToArray() : null,
                field.MaxRepetitionLevel > 0 ? Repetitions.ToArray() : null, ct);
        }
    }

    /// <summary>A column or nested field: its Hive type, its Parquet field and, for a leaf, which stripe it fills.</summary>
    private sealed class Node
    {
        private HiveType _type = null!;
        private bool _nullable;
        private int _leaf = -1;
        private Node[] _children = [];
        private List<int> _leavesBelow = [];

        public Field Field { get; private set; } = null!;

        /// <summary>The Parquet field of a Hive type; every value may be null except a map's key.</summary>
        public static Node Of(string name, HiveType type, bool nullable, List<DataField> leaves)
        {
            var node = new Node { _type = type, _nullable = nullable };
            var first = leaves.Count;
            switch (type.Kind)
            {
                case HiveKind.Array:
                    node._children = [Of("element", type.Element!, true, leaves)];
                    node.Field = new ListField(name, node._children[0].Field);
                    break;
                case HiveKind.Map:
                    node._children = [Of("key", type.Key!, false, leaves), Of("value", type.Value!, true, leaves)];
                    node.Field = new MapField(name, node._children[0].Field, node._children[1].Field);
                    break;
                case HiveKind.Struct:
                    node._children = type.Fields.Select(f => Of(f.Name, f.Type, true, leaves)).ToArray();
                    node.Field = new StructField(name, node._children.Select(c => c.Field).ToArray());
                    break;
                default:
                    var leaf = Leaf(name, type, nullable);
                    node._leaf = leaves.Count;
                    leaves.Add(leaf);
                    node.Field = leaf;
                    break;
            }

            node._leavesBelow = Enumerable.Range(first, leaves.Count - first).ToList();
            return node;
        }

        private static DataField Leaf(string name, HiveType type, bool nullable) => type.Kind switch
        {
            HiveKind.String or HiveKind.Varchar or HiveKind.Char => new DataField<string>(name, nullable),
            HiveKind.Boolean => new DataField<bool>(name, nullable),
            HiveKind.TinyInt => new DataField<sbyte>(name, nullable),
            HiveKind.SmallInt => new DataField<short>(name, nullable),
            HiveKind.Int => new DataField<int>(name, nullable),
            HiveKind.BigInt => new DataField<long>(name, nullable),
            HiveKind.Float => new DataField<float>(name, nullable),
            HiveKind.Double => new DataField<double>(name, nullable),
            HiveKind.Decimal => new DecimalDataField(name, type.Precision, type.Scale, forceByteArrayEncoding: true, isNullable: nullable),
            HiveKind.Date => new DataField<DateOnly>(name, nullable),
            HiveKind.Timestamp => new DateTimeDataField(name, DateTimeFormat.Impala, isAdjustedToUTC: true, isNullable: nullable),
            _ => new DataField<byte[]>(name, nullable),
        };

        /// <summary>
        /// Stripes one value: <paramref name="definition"/> counts the optional and repeated levels present above it,
        /// <paramref name="repetition"/> is the level its first leaf entry repeats at.
        /// </summary>
        public void Write(object? value, int definition, int repetition, Stripe[] stripes)
        {
            if (value is null)
            {
                foreach (var leaf in _leavesBelow)
                {
                    stripes[leaf].Definitions.Add(definition);
                    stripes[leaf].Repetitions.Add(repetition);
                }

                return;
            }

            switch (_type.Kind)
            {
                case HiveKind.Array:
                    var items = (List<object?>)value;
                    if (items.Count == 0)
                    {
                        Write(null, definition + 1, repetition, stripes);
                    }

                    for (var i = 0; i < items.Count; i++)
                    {
                        _children[0].Write(items[i], definition + 2, i == 0 ? repetition : Field.MaxRepetitionLevel, stripes);
                    }

                    break;
                case HiveKind.Map:
                    var entries = (Dictionary<object, object?>)value;
                    if (entries.Count == 0)
                    {
                        Write(null, definition + 1, repetition, stripes);
                    }

                    var at = 0;
                    foreach (var (key, item) in entries)
                    {
                        var level = at++ == 0 ? repetition : Field.MaxRepetitionLevel;
                        _children[0].Write(key, definition + 2, level, stripes);
                        _children[1].Write(item, definition + 2, level, stripes);
                    }

                    break;
                case HiveKind.Struct:
                    var fields = (Dictionary<string, object?>)value;
                    foreach (var child in _children)
                    {
                        child.Write(fields.GetValueOrDefault(child.Field.Name), definition + 1, repetition, stripes);
                    }

                    break;
                default:
                    var stripe = stripes[_leaf];
                    stripe.Values.Add(value switch
                    {
                        string text => text.AsMemory(),
                        byte[] bytes => new ReadOnlyMemory<byte>(bytes),
                        _ => value,
                    });
                    stripe.Definitions.Add(definition + (_nullable ? 1 : 0));
                    stripe.Repetitions.Add(repetition);
                    break;
            }
        }
    }
}
