using System.Globalization;
using System.Text.Json.Nodes;
using Millrace.Aggregation;
using Millrace.Gateway;
using Millrace.Storage;
using Millrace.Storage.Delivery;

namespace Millrace.Firehose.Delivery;

/// <summary>
/// Drains one delivery stream's buffer: collects a batch until its size or interval hint is reached, processes it,
/// writes it to the destination with retries, and only then checkpoints the buffer position (durably), so a
/// crash anywhere repeats a batch rather than losing it. Batches go out one at a time, in buffer order.
/// </summary>
internal sealed partial class DeliveryWorker(LiveStream live, IDeliveryStreamStore store, IStreamStore buffers, FirehoseOptions options, FirehoseConnections connections)
{
    internal const string BufferCheckpoint = "buffer";
    private const int ReadRecords = 10_000;

    private readonly ShardKey _shard = new(live.BufferId, 0);

    private long NowMs => options.Clock.GetUtcNow().ToUnixTimeMilliseconds();

    private DeliverySettings _settings = null!;
    private RecordProcessing _processing = null!;
    private int _version;
    private string? _sourceArn;

    public async Task RunAsync(CancellationToken ct)
    {
        try
        {
            var document = live.Document;
            _settings = DeliverySettings.Parse(document["Destination"]!.AsObject());
            _version = document["VersionId"]!.GetValue<int>();
            _sourceArn = document["Source"]?["KinesisStreamSourceDescription"]?["KinesisStreamARN"]?.GetValue<string>();
            _processing = new RecordProcessing(_settings, connections.Functions, connections.RoleAllows, options, document["DeliveryStreamARN"]!.GetValue<string>(), _sourceArn);
            var checkpoints = await store.GetCheckpointsAsync(live.Name, ct);
            var position = checkpoints.TryGetValue(BufferCheckpoint, out var p) ? ulong.Parse(p, CultureInfo.InvariantCulture) : 0;
            var source = _sourceArn is not null && connections.Kinesis is { } kinesis
                ? new KinesisSourceReader(live, _sourceArn, document["Source"]!["KinesisStreamSourceDescription"]!["DeliveryStartTimestamp"]!.GetValue<long>(),
                    SourceAsRole(kinesis, document), store, buffers, options).RunAsync(ct)
                : Task.CompletedTask;
            try
            {
                while (!ct.IsCancellationRequested)
                {
                    var (batch, next) = await CollectAsync(position, ct);
                    if (batch.Count > 0)
                    {
                        await DeliverAsync(batch, ct);
                        await store.PutCheckpointsAsync(live.Name, [new(BufferCheckpoint, next.ToString(CultureInfo.InvariantCulture))], ct);
                        live.Statistics.BatchDone(NowMs - batch[0].ArrivalMs);
                    }

                    position = next;
                }
            }
            finally
            {
                await source;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
    }

    /// <summary>The source stream as the source's RoleARN reads it: a role that may not GetRecords reads nothing (the records wait in the stream).</summary>
    private IKinesisCalls SourceAsRole(IKinesisCalls kinesis, JsonObject document)
    {
        if (connections.RoleAllows is not { } allows)
        {
            return kinesis;
        }

        var role = document["Source"]!["KinesisStreamSourceDescription"]!["RoleARN"]?.GetValue<string>();
        return new RoleKinesisCalls(kinesis, _sourceArn!, _ => ValueTask.FromResult(role), allows);
    }

    /// <summary>Reads buffered records until the size hint is reached or the oldest has waited the interval hint.</summary>
    private async Task<(List<StoredRecord> Batch, ulong Next)> CollectAsync(ulong position, CancellationToken ct)
    {
        var batch = new List<StoredRecord>();
        long bytes = 0;
        while (true)
        {
            var notBefore = NowMs - (long)TimeSpan.FromHours(25).TotalMilliseconds;
            var read = await buffers.Records.ReadAsync(_shard, position, ReadRecords, Math.Max(1, _settings.BufferBytes - bytes), notBefore, ct);
            foreach (var r in read.Records)
            {
                batch.Add(r);
                bytes += r.Data.Length;
            }

            position = read.NextPosition;
            if (bytes >= _settings.BufferBytes || (batch.Count > 0 && _settings.IntervalSeconds == 0))
            {
                return (batch, position);
            }

            var deadline = batch.Count > 0 ? batch[0].ArrivalMs + (_settings.IntervalSeconds * 1000L) : long.MaxValue;
            var wait = deadline - NowMs;
            if (wait <= 0)
            {
                return (batch, position);
            }

            if (read.Records.Count > 0 && read.NextPosition < read.TipPosition)
            {
                continue; // more is already there
            }

            using var timer = deadline == long.MaxValue ? new CancellationTokenSource() : new CancellationTokenSource(TimeSpan.FromMilliseconds(wait), options.Clock);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct, timer.Token);

            try
            {
                await buffers.Records.WaitForDataAsync(_shard, position, timeout.Token);
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return (batch, position);
            }
        }
    }

    /// <summary>Buffered records as Firehose records: KPL aggregates of a stream source split into their user records.</summary>
    private static List<FirehoseRecord> Expand(List<StoredRecord> batch)
    {
        var records = new List<FirehoseRecord>(batch.Count);
        foreach (var stored in batch)
        {
            var kinesis = KinesisMetadata.Decode(stored.PartitionKey.Span);
            if (kinesis is not null && Deaggregator.IsAggregated(stored.Data.Span))
            {
                var sub = 0;
                foreach (var user in Deaggregator.Deaggregate(new Millrace.Client.Record { Data = stored.Data.ToArray(), PartitionKey = kinesis.PartitionKey, SequenceNumber = kinesis.SequenceNumber }))
                {
                    records.Add(new FirehoseRecord(stored.Position, sub, stored.ArrivalMs, user.Data, kinesis with { PartitionKey = user.PartitionKey, SubsequenceNumber = sub }));
                    sub++;
                }
            }
            else
            {
                records.Add(new FirehoseRecord(stored.Position, 0, stored.ArrivalMs, stored.Data, kinesis));
            }
        }

        return records;
    }

    private async Task DeliverAsync(List<StoredRecord> batch, CancellationToken ct)
    {
        var records = Expand(batch);
        var source = records.ToList();
        var failed = new List<FailedRecord>();
        var processed = await _processing.RunAsync(records, failed, ct);
        var oldest = batch[0].ArrivalMs;
        switch (_settings.Kind)
        {
            case "HttpEndpoint":
                await DeliverHttpAsync(processed, failed, oldest, ct);
                break;
            case "Redshift":
                await DeliverRedshiftAsync(processed, oldest, ct);
                break;
            default:
                await DeliverS3Async(processed, failed, oldest, ct);
                break;
        }

        if (_settings.Backup is { } backup)
        {
            // Source record backup: what came in, before any transformation.
            await WriteObjectAsync(backup, Keys(backup).DataKey(oldest, null, ObjectCompression.Extension(backup.Compression)),
                source.Select(r => r.RawData).ToList(), backup.Compression, oldest, ct);
        }

        await WriteErrorsAsync(failed, oldest, ct);
    }

    private async Task DeliverS3Async(List<FirehoseRecord> processed, List<FailedRecord> failed, long oldest, CancellationToken ct)
    {
        var target = _settings.S3;
        var keys = Keys(target);
        var conversion = _settings.Conversion is { } convert ? await PrepareConversionAsync(convert, ct) : null;
        foreach (var group in Partition(processed, keys, failed))
        {
            var groupOldest = group.Min(r => r.ArrivalMs);
            if (conversion is not null)
            {
                // Parquet compresses inside the file: the object itself is written as it is.
                var (body, converted) = await ConvertAsync(conversion, group, failed, ct);
                if (body is not null)
                {
                    await WriteObjectAsync(target, keys.DataKey(groupOldest, group[0], target.FileExtension ?? ""), [body], "UNCOMPRESSED", oldest, ct, records: converted);
                }

                continue;
            }

            var extension = target.FileExtension ?? ObjectCompression.Extension(target.Compression);
            await WriteObjectAsync(target, keys.DataKey(groupOldest, group[0], extension), group.Select(r => r.Data).ToList(), target.Compression, oldest, ct,
                records: group.Count);
        }
    }

    /// <summary>Records grouped by their partition keys (one group without dynamic partitioning); records whose prefix cannot be evaluated fail.</summary>
    private static List<List<FirehoseRecord>> Partition(List<FirehoseRecord> records, ObjectKeys keys, List<FailedRecord> failed)
    {
        var groups = new Dictionary<string, List<FirehoseRecord>>(StringComparer.Ordinal);
        foreach (var r in records)
        {
            if (!keys.TryGroup(r, out var group, out var error))
            {
                failed.Add(new FailedRecord(r, "partitioning-failed", "DynamicPartitioning.MetadataExtractionFailed", error, 1, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
                continue;
            }

            if (!groups.TryGetValue(group, out var list))
            {
                groups[group] = list = [];
            }

            list.Add(r);
        }

        return [.. groups.Values];
    }

    private ObjectKeys Keys(S3Target target) => new(target, live.Name, _version, _settings.DynamicPartitioning && ReferenceEquals(target, _settings.S3));

    private async Task WriteErrorsAsync(List<FailedRecord> failed, long oldest, CancellationToken ct)
    {
        if (failed.Count == 0)
        {
            return;
        }

        var target = _settings.S3;
        var keys = Keys(target);
        foreach (var group in failed.GroupBy(f => f.ErrorOutputType))
        {
            var lines = FailedRecord.Lines(group);
            await WriteObjectAsync(target, keys.ErrorKey(group.Min(f => f.Record.ArrivalMs), group.Key, ObjectCompression.Extension(target.Compression)),
                [lines], target.Compression, oldest, ct);
            live.Statistics.Failed(group.Count());
        }
    }

    /// <summary>Writes one object, retrying until it is stored or the data is older than the retry limit (24 hours), as Firehose does for S3.</summary>
    private async Task WriteObjectAsync(S3Target target, string key, IReadOnlyList<ReadOnlyMemory<byte>> parts, string compression, long oldestMs, CancellationToken ct, int records = 0)
    {
        var body = ObjectCompression.Compress(compression, parts, Path.GetFileName(key).Replace(".zip", "", StringComparison.Ordinal));
        var stored = await RetryAsync(async () =>
        {
            if (connections.RoleAllows is { } allows && target.RoleArn is { } role
                && !await allows(role, "s3:PutObject", $"arn:aws:s3:::{target.Bucket}/{key}", ct))
            {
                throw new DeliveryException("S3.AccessDenied", $"Access Denied: the role {role} may not s3:PutObject in {target.Bucket}.");
            }

            if (!await connections.Objects.WriteAsync(target.Bucket, key, body, ObjectCompression.ContentType(compression), ct))
            {
                throw new DeliveryException("S3.NoSuchBucket", $"The bucket {target.Bucket} does not exist.");
            }
        }, oldestMs, ct);
        if (stored)
        {
            live.Statistics.Delivered(records, 1, body.Length);
        }
        else
        {
            // As on AWS: S3 data older than the retry limit (24 hours) is given up; counted, not silently.
            live.Statistics.Failed(records);
        }
    }

    /// <summary>Retries a delivery step with backoff (1 s doubling to 30 s) until it succeeds or the data reaches its maximum age; false then.</summary>
    private async Task<bool> RetryAsync(Func<Task> step, long oldestMs, CancellationToken ct, long? maxAgeMs = null)
    {
        var limit = oldestMs + (maxAgeMs ?? (long)options.MaxDataAge.TotalMilliseconds);
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await step();
                return true;
            }
            catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                live.Statistics.Retried();
                var delay = Math.Min(1000L << Math.Min(attempt, 5), 30_000);
                if (NowMs + delay > limit)
                {
                    return false;
                }

                await Task.Delay(TimeSpan.FromMilliseconds(delay), options.Clock, ct);
            }
        }
    }
}

/// <summary>A destination refused or failed a delivery: Firehose's error code for it and a message.</summary>
internal sealed class DeliveryException(string code, string message) : Exception(message)
{
    public string Code { get; } = code;
}
