using System.Text.Json;

namespace Millrace.Firehose.Delivery;

/// <summary>Where a record of a Kinesis-sourced delivery stream came from (Lambda's <c>kinesisRecordMetadata</c>).</summary>
internal sealed record KinesisMetadata(string ShardId, string PartitionKey, string SequenceNumber, long SubsequenceNumber, long ArrivalMs)
{
    /// <summary>The form kept in a buffered record's partition-key field: small JSON, read back at delivery.</summary>
    public byte[] Encode() => JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
    {
        ["s"] = ShardId, ["k"] = PartitionKey, ["q"] = SequenceNumber, ["t"] = ArrivalMs,
    });

    public static KinesisMetadata? Decode(ReadOnlySpan<byte> encoded)
    {
        if (encoded.IsEmpty)
        {
            return null;
        }

        using var doc = JsonDocument.Parse(encoded.ToArray());
        var r = doc.RootElement;
        return new KinesisMetadata(r.GetProperty("s").GetString()!, r.GetProperty("k").GetString()!, r.GetProperty("q").GetString()!, 0, r.GetProperty("t").GetInt64());
    }
}

/// <summary>One record on its way through a delivery: its current data, its origin in the buffer and what processing attached to it.</summary>
internal sealed class FirehoseRecord(ulong position, int sub, long arrivalMs, ReadOnlyMemory<byte> data, KinesisMetadata? kinesis)
{
    /// <summary>Position of the buffered record it came from.</summary>
    public ulong Position { get; } = position;

    /// <summary>Index among the records one buffered record was split into (KPL aggregates, JSON or delimited sub-records).</summary>
    public int Sub { get; } = sub;

    public long ArrivalMs { get; } = arrivalMs;

    public ReadOnlyMemory<byte> Data { get; set; } = data;

    /// <summary>The data as it was buffered (after deaggregation), for source backup and error records.</summary>
    public ReadOnlyMemory<byte> RawData { get; init; } = data;

    public KinesisMetadata? Kinesis { get; } = kinesis;

    /// <summary>Partition keys from a MetadataExtraction query.</summary>
    public Dictionary<string, string>? QueryKeys { get; set; }

    /// <summary>Partition keys a Lambda transformation returned in <c>metadata.partitionKeys</c>.</summary>
    public Dictionary<string, string>? LambdaKeys { get; set; }

    /// <summary>The id Lambda sees: unique within a delivery stream and stable across retries of the same batch.</summary>
    public string RecordId => Sub == 0 ? Position.ToString(System.Globalization.CultureInfo.InvariantCulture) : $"{Position}.{Sub}";

    public FirehoseRecord With(ReadOnlyMemory<byte> data, int sub) => new(Position, sub, ArrivalMs, data, Kinesis)
    {
        RawData = data, QueryKeys = QueryKeys, LambdaKeys = LambdaKeys,
    };
}

/// <summary>A record that failed a stage and goes to the error output under its error-output type.</summary>
internal sealed record FailedRecord(FirehoseRecord Record, string ErrorOutputType, string ErrorCode, string ErrorMessage, int AttemptsMade, long AttemptEndingMs, string? LambdaArn = null)
{
    /// <summary>The Glue table a format conversion used (format-conversion-failed records name it).</summary>
    public CatalogTableReference? CatalogTable { get; init; }

    /// <summary>AWS's error record: one JSON object per line.</summary>
    public void WriteTo(Stream output)
    {
        using (var w = new Utf8JsonWriter(output))
        {
            w.WriteStartObject();
            if (CatalogTable is { } table)
            {
                WriteConversionFailure(w, table);
            }
            else
            {
                WriteFailure(w);
            }

            w.WriteEndObject();
        }

        output.WriteByte((byte)'\n');
    }

    private void WriteFailure(Utf8JsonWriter w)
    {
        w.WriteNumber("attemptsMade", AttemptsMade);
        w.WriteNumber("arrivalTimestamp", Record.ArrivalMs);
        w.WriteString("errorCode", ErrorCode);
        w.WriteString("errorMessage", ErrorMessage);
        w.WriteNumber("attemptEndingTimestamp", AttemptEndingMs);
        w.WriteBase64String("rawData", Record.RawData.Span);
        if (LambdaArn is not null)
        {
            w.WriteString("lambdaArn", LambdaArn);
        }

        if (ErrorOutputType == "http-endpoint-failed")
        {
            w.WriteNumber("subsequenceNumber", Record.Sub);
            w.WriteString("dataId", $"{SequenceNumber}.{Record.Sub}");
        }
    }

    /// <summary>The record's sequence number in its source stream, or its position in the delivery stream's buffer (DirectPut).</summary>
    private string SequenceNumber => Record.Kinesis?.SequenceNumber ?? Record.Position.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>A format-conversion-failed record: AWS names its error fields lastErrorCode and lastErrorMessage here.</summary>
    private void WriteConversionFailure(Utf8JsonWriter w, CatalogTableReference table)
    {
        w.WriteNumber("attemptsMade", AttemptsMade);
        w.WriteNumber("arrivalTimestamp", Record.ArrivalMs);
        w.WriteString("lastErrorCode", ErrorCode);
        w.WriteString("lastErrorMessage", ErrorMessage);
        w.WriteNumber("attemptEndingTimestamp", AttemptEndingMs);
        w.WriteBase64String("rawData", Record.RawData.Span);
        w.WriteString("sequenceNumber", SequenceNumber);
        w.WriteNumber("subSequenceNumber", Record.Sub);
        w.WriteStartObject("dataCatalogTable");
        w.WriteString("catalogId", table.CatalogId);
        w.WriteString("databaseName", table.DatabaseName);
        w.WriteString("tableName", table.TableName);
        w.WriteString("region", table.Region);
        w.WriteString("versionId", table.VersionId);
        w.WriteString("catalogArn", $"arn:aws:glue:{table.Region}:{table.CatalogId}:catalog");
        w.WriteEndObject();
    }

    public static byte[] Lines(IEnumerable<FailedRecord> failures)
    {
        using var buffer = new MemoryStream();
        foreach (var f in failures)
        {
            f.WriteTo(buffer);
        }

        return buffer.ToArray();
    }
}

/// <summary>The Glue table a conversion read its schema from, as format-conversion-failed records report it.</summary>
internal sealed record CatalogTableReference(string CatalogId, string DatabaseName, string TableName, string Region, string VersionId);
