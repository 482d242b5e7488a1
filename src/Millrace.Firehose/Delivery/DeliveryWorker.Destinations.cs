using System.Text;
using System.Text.Json.Nodes;
using Millrace.Firehose.Http;
using Millrace.Firehose.Redshift;
using Millrace.Protocol.Wire;

namespace Millrace.Firehose.Delivery;

internal sealed partial class DeliveryWorker
{
    /// <summary>Firehose sends at most this many records in one HTTP endpoint request.</summary>
    private const int MaxHttpRecords = 10_000;

    private static readonly HttpEndpointClient HttpClient = new();

    // ---- HTTP endpoint ----

    private async Task DeliverHttpAsync(List<FirehoseRecord> processed, List<FailedRecord> failed, long oldest, CancellationToken ct)
    {
        var c = _settings.Configuration;
        var endpoint = c["EndpointConfiguration"]!.AsObject();
        var request = c["RequestConfiguration"] as JsonObject;
        var target = new HttpEndpointTarget
        {
            Url = ModelDocument.GetString(endpoint["Url"])!,
            Name = ModelDocument.GetString(endpoint["Name"]),
            AccessKey = ModelDocument.GetString(endpoint["AccessKey"]),
            SourceArn = live.Document["DeliveryStreamARN"]!.GetValue<string>(),
            ContentEncoding = ModelDocument.GetString(request?["ContentEncoding"]) == "GZIP" ? HttpContentEncoding.Gzip : HttpContentEncoding.None,
            CommonAttributes = (request?["CommonAttributes"] as JsonArray ?? [])
                .ToDictionary(a => ModelDocument.GetString(a!["AttributeName"])!, a => ModelDocument.GetString(a!["AttributeValue"]) ?? "", StringComparer.Ordinal),
        };
        var retrySeconds = (int)(ModelDocument.GetInt64(c["RetryOptions"]?["DurationInSeconds"]) ?? HttpEndpointDelivery.DefaultRetryDurationInSeconds);
        for (var start = 0; start < processed.Count; start += MaxHttpRecords)
        {
            var chunk = processed.GetRange(start, Math.Min(MaxHttpRecords, processed.Count - start));
            var outcome = await HttpEndpointDelivery.DeliverWithRetriesAsync(HttpClient, target, chunk.Select(r => r.Data).ToList(), retrySeconds, options.Clock, ct, options.HttpResponseTimeout);
            if (outcome.IsDelivered)
            {
                live.Statistics.Delivered(chunk.Count, 0, chunk.Sum(r => (long)r.Data.Length));
            }
            else if (outcome.WritesErrorOutput)
            {
                var message = outcome.EndpointErrorMessage ?? outcome.ErrorMessage ?? "The HTTP endpoint did not accept the data.";
                failed.AddRange(chunk.Select(r => new FailedRecord(r, "http-endpoint-failed", outcome.ErrorCode ?? HttpEndpointErrorCodes.DestinationException, message,
                    outcome.AttemptsMade, outcome.AttemptEndingTimestamp.ToUnixTimeMilliseconds())));
            }
            else
            {
                // 413: permanent, and as AWS specifies not written to the error bucket; counted as failed.
                live.Statistics.Failed(chunk.Count);
            }
        }

        if (_settings.BackupMode == "AllData")
        {
            var s3 = _settings.S3;
            await WriteObjectAsync(s3, Keys(s3).DataKey(oldest, null, ObjectCompression.Extension(s3.Compression)),
                processed.Select(r => r.Data).ToList(), s3.Compression, oldest, ct);
        }
    }

    // ---- Redshift (PostgreSQL) ----

    /// <summary>Stages the batch as an S3 object (as Firehose does), then loads it with the COPY command through PostgreSQL, retrying for RetryOptions.</summary>
    private async Task DeliverRedshiftAsync(List<FirehoseRecord> processed, long oldest, CancellationToken ct)
    {
        if (processed.Count == 0)
        {
            return;
        }

        var c = _settings.Configuration;
        var s3 = _settings.S3;
        var key = Keys(s3).DataKey(oldest, null, ObjectCompression.Extension(s3.Compression));
        var staged = ObjectCompression.Compress(s3.Compression, processed.Select(r => r.Data).ToList(), key);
        await WriteObjectAsync(s3, key, [staged], "UNCOMPRESSED", oldest, ct);

        var copy = c["CopyCommand"]!.AsObject();
        var command = new CopyCommand(ModelDocument.GetString(copy["DataTableName"])!, ModelDocument.GetString(copy["DataTableColumns"]), ModelDocument.GetString(copy["CopyOptions"]));
        var connection = RedshiftConnection.Parse(ModelDocument.GetString(c["ClusterJDBCURL"])!, ModelDocument.GetString(c["Username"]) ?? "", ModelDocument.GetString(c["Password"]) ?? "");
        var retrySeconds = ModelDocument.GetInt64(c["RetryOptions"]?["DurationInSeconds"]) ?? 3600;
        RedshiftLoadOutcome? last = null;
        var loaded = await RetryAsync(async () =>
        {
            last = await RedshiftLoader.LoadAsync(connection, command, [staged], ct);
            if (!last.Succeeded)
            {
                throw new DeliveryException(last.ErrorCode!, last.ErrorMessage ?? last.ErrorCode!);
            }
        }, NowMs, ct, retrySeconds * 1000);
        if (loaded)
        {
            live.Statistics.Delivered(processed.Count, 0, 0);
            return;
        }

        // As Firehose: the staged object stays, and a manifest of what was not loaded goes under errors/manifests/.
        var manifest = new JsonObject
        {
            ["entries"] = new JsonArray(new JsonObject { ["url"] = $"s3://{s3.Bucket}/{key}", ["mandatory"] = true }),
            ["errorCode"] = last?.ErrorCode,
            ["errorMessage"] = last?.ErrorMessage,
        };
        var manifestKey = $"{s3.Prefix}errors/manifests/{DateTimeOffset.FromUnixTimeMilliseconds(oldest):yyyy/MM/dd/HH}/{Path.GetFileName(key)}";
        await WriteObjectAsync(s3, manifestKey, [Encoding.UTF8.GetBytes(manifest.ToJsonString())], "UNCOMPRESSED", NowMs, ct);
        live.Statistics.Failed(processed.Count);
    }
}
