using System.Globalization;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Millrace.Gateway;
using Millrace.Protocol.Wire;

namespace Millrace.Firehose.Delivery;

/// <summary>
/// The record processing of one batch, in Firehose's order: JSON or delimited deaggregation, decompression and
/// CloudWatch Logs extraction, the Lambda transformation, MetadataExtraction (jq) for partition keys, and finally
/// AppendDelimiterToRecord. Records that fail a stage leave the batch as <see cref="FailedRecord"/>s.
/// </summary>
internal sealed class RecordProcessing(DeliverySettings settings, IFunctionInvocations? functions, RoleAuthorization? roleAllows, FirehoseOptions options, string streamArn, string? sourceStreamArn)
{
    /// <summary>Lambda's synchronous payload limit (6 MB), minus room for the event's envelope.</summary>
    private const int MaxInvokePayload = 6_000_000 - 64 * 1024;

    private static readonly string[] Order = ["RecordDeAggregation", "Decompression", "CloudWatchLogProcessing", "Lambda", "MetadataExtraction", "AppendDelimiterToRecord"];

    private long NowMs => options.Clock.GetUtcNow().ToUnixTimeMilliseconds();

    public async Task<List<FirehoseRecord>> RunAsync(List<FirehoseRecord> records, List<FailedRecord> failed, CancellationToken ct)
    {
        foreach (var type in Order)
        {
            foreach (var processor in settings.Processors.Where(p => p.Type == type))
            {
                records = type switch
                {
                    "RecordDeAggregation" => Deaggregate(records, processor, failed),
                    "Decompression" => Decompress(records, failed),
                    "CloudWatchLogProcessing" => ExtractLogMessages(records, processor, failed),
                    "Lambda" => await TransformAsync(records, processor, failed, ct),
                    "MetadataExtraction" => ExtractPartitionKeys(records, processor, failed),
                    _ => AppendDelimiter(records, processor),
                };
            }
        }

        if (settings.DynamicPartitioning && !settings.Processors.Any(p => p.Type == "MetadataExtraction"))
        {
            // Keys from Lambda only: a record the function gave no keys cannot be placed.
            var placed = new List<FirehoseRecord>(records.Count);
            foreach (var r in records)
            {
                if (r.LambdaKeys is null && Prefixes.FirehosePrefix.UsesLambdaKeys(settings.S3.Prefix))
                {
                    failed.Add(new FailedRecord(r, "partitioning-failed", "DynamicPartitioning.MetadataExtractionFailed",
                        "The Lambda transformation returned no metadata.partitionKeys for this record.", 1, NowMs));
                }
                else
                {
                    placed.Add(r);
                }
            }

            records = placed;
        }

        return records;
    }

    // ---- built-in processors ----

    private List<FirehoseRecord> Deaggregate(List<FirehoseRecord> records, ProcessorSettings p, List<FailedRecord> failed)
    {
        var output = new List<FirehoseRecord>(records.Count);
        var json = p.Get("SubRecordType") == "JSON";
        var delimiter = json ? null : Convert.FromBase64String(p.Get("Delimiter")!);
        foreach (var r in records)
        {
            var parts = json ? SplitJson(r.Data) : SplitDelimited(r.Data, delimiter!);
            if (parts is null)
            {
                failed.Add(new FailedRecord(r, "processing-failed", "RecordDeAggregation.InvalidJson", "The record is not a sequence of JSON values.", 1, NowMs));
                continue;
            }

            for (var i = 0; i < parts.Count; i++)
            {
                output.Add(r.With(parts[i], r.Sub * 1000 + i));
            }
        }

        return output;
    }

    /// <summary>Splits concatenated (or newline-separated) JSON values; null when the data is not JSON.</summary>
    internal static List<ReadOnlyMemory<byte>>? SplitJson(ReadOnlyMemory<byte> data)
    {
        var parts = new List<ReadOnlyMemory<byte>>();
        var reader = new Utf8JsonReader(data.Span, new JsonReaderOptions { AllowMultipleValues = true, CommentHandling = JsonCommentHandling.Disallow });
        try
        {
            while (reader.Read())
            {
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                parts.Add(data[start..(int)reader.BytesConsumed]);
            }
        }
        catch (JsonException)
        {
            return null;
        }

        return parts;
    }

    internal static List<ReadOnlyMemory<byte>> SplitDelimited(ReadOnlyMemory<byte> data, byte[] delimiter)
    {
        var parts = new List<ReadOnlyMemory<byte>>();
        var rest = data;
        while (true)
        {
            var at = rest.Span.IndexOf(delimiter);
            if (at < 0)
            {
                if (!rest.IsEmpty)
                {
                    parts.Add(rest);
                }

                return parts;
            }

            parts.Add(rest[..at]);
            rest = rest[(at + delimiter.Length)..];
        }
    }

    private List<FirehoseRecord> Decompress(List<FirehoseRecord> records, List<FailedRecord> failed)
    {
        var output = new List<FirehoseRecord>(records.Count);
        foreach (var r in records)
        {
            try
            {
                using var gzip = new GZipStream(new MemoryStream(r.Data.ToArray()), CompressionMode.Decompress);
                using var plain = new MemoryStream();
                gzip.CopyTo(plain);
                r.Data = plain.ToArray();
                output.Add(r);
            }
            catch (InvalidDataException e)
            {
                failed.Add(new FailedRecord(r, "processing-failed", "Decompression.InvalidData", $"The record is not GZIP data: {e.Message}", 1, NowMs));
            }
        }

        return output;
    }

    /// <summary>CloudWatch Logs subscription data: each log event's message becomes a record; control messages are dropped.</summary>
    private List<FirehoseRecord> ExtractLogMessages(List<FirehoseRecord> records, ProcessorSettings p, List<FailedRecord> failed)
    {
        if (!string.Equals(p.Get("DataMessageExtraction"), "true", StringComparison.OrdinalIgnoreCase))
        {
            return records;
        }

        var output = new List<FirehoseRecord>(records.Count);
        foreach (var r in records)
        {
            try
            {
                var envelope = JsonNode.Parse(r.Data.Span, documentOptions: Millrace.Protocol.Wire.JsonText.StrictDocument)!.AsObject();
                if (envelope["messageType"]?.GetValue<string>() == "CONTROL_MESSAGE")
                {
                    continue;
                }

                var events = envelope["logEvents"]!.AsArray();
                for (var i = 0; i < events.Count; i++)
                {
                    output.Add(r.With(Encoding.UTF8.GetBytes(events[i]!["message"]!.GetValue<string>() + "\n"), r.Sub * 1000 + i));
                }
            }
            catch (Exception e) when (e is JsonException or NullReferenceException or InvalidOperationException)
            {
                failed.Add(new FailedRecord(r, "processing-failed", "CloudWatchLogProcessing.InvalidData", "The record is not CloudWatch Logs subscription data.", 1, NowMs));
            }
        }

        return output;
    }

    private List<FirehoseRecord> ExtractPartitionKeys(List<FirehoseRecord> records, ProcessorSettings p, List<FailedRecord> failed)
    {
        var program = Jq.JqProgram.Parse(p.Get("MetadataExtractionQuery")!);
        var output = new List<FirehoseRecord>(records.Count);
        foreach (var r in records)
        {
            if (Jq.JqProgram.TryExtractPartitionKeys(program, r.Data.Span, out var keys, out var error))
            {
                r.QueryKeys = keys;
                output.Add(r);
            }
            else
            {
                failed.Add(new FailedRecord(r, "partitioning-failed", "DynamicPartitioning.MetadataExtractionFailed", error, 1, NowMs));
            }
        }

        return output;
    }

    private static List<FirehoseRecord> AppendDelimiter(List<FirehoseRecord> records, ProcessorSettings p)
    {
        var delimiter = p.Get("Delimiter") is { Length: > 0 } d ? Convert.FromBase64String(d) : "\n"u8.ToArray();
        foreach (var r in records)
        {
            var data = new byte[r.Data.Length + delimiter.Length];
            r.Data.CopyTo(data);
            delimiter.CopyTo(data, r.Data.Length);
            r.Data = data;
        }

        return records;
    }

    // ---- Lambda ----

    private async Task<List<FirehoseRecord>> TransformAsync(List<FirehoseRecord> records, ProcessorSettings p, List<FailedRecord> failed, CancellationToken ct)
    {
        var arn = p.Get("LambdaArn")!;
        var retries = (int)settings.Number(p, "NumberOfRetries", 3);
        var chunkBytes = (long)Math.Min(settings.Number(p, "BufferSizeInMBs", 1) * DeliverySettings.MiB, MaxInvokePayload);
        var output = new List<FirehoseRecord>(records.Count);
        var start = 0;
        while (start < records.Count)
        {
            // base64 makes each record's data 4/3 larger in the event.
            long size = 0;
            var end = start;
            while (end < records.Count && (end == start || size + (records[end].Data.Length * 4 / 3) + 200 <= chunkBytes))
            {
                size += (records[end].Data.Length * 4 / 3) + 200;
                end++;
            }

            await InvokeChunkAsync(records.GetRange(start, end - start), arn, p.Get("RoleArn") ?? settings.RoleArn, retries, output, failed, ct);
            start = end;
        }

        return output;
    }

    private async Task InvokeChunkAsync(List<FirehoseRecord> chunk, string arn, string? roleArn, int retries, List<FirehoseRecord> output, List<FailedRecord> failed, CancellationToken ct)
    {
        var payload = Event(chunk);
        string code = "Lambda.FunctionError", message = "";
        var attempts = 0;
        for (; attempts <= retries; attempts++)
        {
            if (attempts > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(1000 * (1 << Math.Min(attempts - 1, 5)), 10_000)), options.Clock, ct);
            }

            try
            {
                if (roleAllows is not null && (roleArn is null || !await roleAllows(roleArn, "lambda:InvokeFunction", arn, ct)))
                {
                    throw new ServiceException("AccessDeniedException", RoleKinesisCalls.Denial(roleArn, "lambda:InvokeFunction", arn));
                }

                var response = functions is null
                    ? throw new ServiceException("ResourceNotFoundException", "Lambda is not available on this server.")
                    : await functions.InvokeAsync(arn, payload, ct);
                if (response.FunctionError is not null)
                {
                    (code, message) = ("Lambda.FunctionError", "The Lambda function was successfully invoked but it returned an error result: " + Truncate(response.Payload));
                    continue;
                }

                if (TryReadResponse(chunk, response.Payload, out var results, out code, out message))
                {
                    Apply(chunk, results!, arn, attempts + 1, output, failed);
                    return;
                }
            }
            catch (ServiceException e)
            {
                code = e.Code switch
                {
                    "TooManyRequestsException" => "Lambda.InvokeLimitExceeded",
                    "ResourceNotFoundException" => "Lambda.FunctionNotFound",
                    "AccessDeniedException" => "Lambda.InvokeAccessDenied",
                    _ => "Lambda.InvokeFailed",
                };
                message = e.ErrorMessage ?? e.Code;
            }
        }

        var ending = NowMs;
        failed.AddRange(chunk.Select(r => new FailedRecord(r, "processing-failed", code, message, attempts, ending, arn)));
    }

    private byte[] Event(List<FirehoseRecord> chunk)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("invocationId", Guid.NewGuid().ToString());
            w.WriteString("deliveryStreamArn", streamArn);
            if (sourceStreamArn is not null)
            {
                w.WriteString("sourceKinesisStreamArn", sourceStreamArn);
            }

            w.WriteString("region", options.Region);
            w.WriteStartArray("records");
            foreach (var r in chunk)
            {
                w.WriteStartObject();
                w.WriteString("recordId", r.RecordId);
                w.WriteNumber("approximateArrivalTimestamp", r.ArrivalMs);
                w.WriteBase64String("data", r.Data.Span);
                if (r.Kinesis is { } k)
                {
                    w.WriteStartObject("kinesisRecordMetadata");
                    w.WriteString("shardId", k.ShardId);
                    w.WriteString("partitionKey", k.PartitionKey);
                    w.WriteNumber("approximateArrivalTimestamp", k.ArrivalMs);
                    w.WriteString("sequenceNumber", k.SequenceNumber);
                    w.WriteString("subsequenceNumber", r.Sub.ToString(CultureInfo.InvariantCulture));
                    w.WriteEndObject();
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.ToArray();
    }

    private sealed record LambdaResult(string Result, byte[]? Data, Dictionary<string, string>? PartitionKeys);

    /// <summary>Checks Firehose's response contract: every recordId once, a known result, base64 data for Ok.</summary>
    private static bool TryReadResponse(List<FirehoseRecord> chunk, byte[] payload, out Dictionary<string, LambdaResult>? results, out string code, out string message)
    {
        results = null;
        JsonArray? list;
        try
        {
            list = JsonNode.Parse(payload, documentOptions: Millrace.Protocol.Wire.JsonText.StrictDocument)?["records"] as JsonArray;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            (code, message) = ("Lambda.JsonProcessingException", "The Lambda function's response is not valid JSON: " + Truncate(payload));
            return false;
        }

        if (list is null)
        {
            (code, message) = ("Lambda.JsonProcessingException", "The Lambda function's response has no records array: " + Truncate(payload));
            return false;
        }

        var expected = chunk.Select(r => r.RecordId).ToHashSet(StringComparer.Ordinal);
        var found = new Dictionary<string, LambdaResult>(StringComparer.Ordinal);
        foreach (var item in list)
        {
            try
            {
                var id = item?["recordId"]?.GetValue<string>();
                if (id is null || !expected.Contains(id))
                {
                    (code, message) = ("Lambda.InvalidRecordId", $"The Lambda function returned a record id that was not in its input: {id ?? "null"}.");
                    return false;
                }

                if (found.ContainsKey(id))
                {
                    (code, message) = ("Lambda.DuplicatedRecordId", $"The Lambda function returned the record id {id} more than once.");
                    return false;
                }

                var result = item!["result"]?.GetValue<string>();
                if (result is not ("Ok" or "Dropped" or "ProcessingFailed"))
                {
                    (code, message) = ("Lambda.InvalidResult", $"The Lambda function returned the result '{result}' for record {id}; expected Ok, Dropped or ProcessingFailed.");
                    return false;
                }

                byte[]? data = null;
                if (item["data"]?.GetValue<string>() is { } text)
                {
                    data = Convert.FromBase64String(text);
                }
                else if (result == "Ok")
                {
                    (code, message) = ("Lambda.MissingData", $"The Lambda function returned result Ok without data for record {id}.");
                    return false;
                }

                Dictionary<string, string>? keys = null;
                if (item["metadata"]?["partitionKeys"] is JsonObject pk)
                {
                    keys = pk.ToDictionary(kv => kv.Key, kv => ModelDocument.GetString(kv.Value) ?? "", StringComparer.Ordinal);
                }

                found[id] = new LambdaResult(result, data, keys);
            }
            catch (Exception e) when (e is FormatException or InvalidOperationException)
            {
                (code, message) = ("Lambda.JsonProcessingException", $"The Lambda function's response is malformed: {e.Message}");
                return false;
            }
        }

        if (found.Count != expected.Count)
        {
            var missing = expected.First(id => !found.ContainsKey(id));
            (code, message) = ("Lambda.MissingRecordId", $"The Lambda function's response is missing record id {missing}.");
            return false;
        }

        results = found;
        (code, message) = ("", "");
        return true;
    }

    private void Apply(List<FirehoseRecord> chunk, Dictionary<string, LambdaResult> results, string arn, int attempts, List<FirehoseRecord> output, List<FailedRecord> failed)
    {
        foreach (var r in chunk)
        {
            var result = results[r.RecordId];
            switch (result.Result)
            {
                case "Ok":
                    r.Data = result.Data!;
                    r.LambdaKeys = result.PartitionKeys;
                    output.Add(r);
                    break;
                case "ProcessingFailed":
                    failed.Add(new FailedRecord(r, "processing-failed", "Lambda.ProcessingFailed", "The Lambda function returned ProcessingFailed for this record.", attempts, NowMs, arn));
                    break;
            }
        }
    }

    private static string Truncate(byte[] payload) => Encoding.UTF8.GetString(payload, 0, Math.Min(payload.Length, 512));
}
