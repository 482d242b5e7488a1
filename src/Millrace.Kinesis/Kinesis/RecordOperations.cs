using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Millrace.Protocol;
using Millrace.Protocol.Wire;
using Millrace.Kinesis.Encryption;
using Millrace.Kinesis.Limits;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>PutRecord, PutRecords and GetRecords: the data plane.</summary>
public sealed class RecordOperations(StreamService streams, KmsKeyStore? keys = null, ShardThroughputLimiter? limits = null)
{
    private const int MaxPutRecordsBytes = 10 * 1024 * 1024;
    private const int GetRecordsDefaultLimit = 10_000;
    private const long GetRecordsMaxBytes = 10L * 1024 * 1024;
    private const long IteratorLifetimeMs = 300_000;
    private const int MaxRerouteAttempts = 16;
    private static readonly JsonEncodedText SequenceNumberName = JsonEncodedText.Encode("SequenceNumber");
    private static readonly JsonEncodedText ShardIdName = JsonEncodedText.Encode("ShardId");

    public void Register(IDictionary<string, KinesisOperation> operations)
    {
        operations["PutRecord"] = PutRecordAsync;
        operations["PutRecords"] = PutRecordsAsync;
        operations["GetRecords"] = GetRecordsAsync;
    }

    private static double ElapsedMs(long started) => Stopwatch.GetElapsedTime(started).TotalMilliseconds;

    private async ValueTask PutRecordAsync(OperationContext ctx)
    {
        long started = Stopwatch.GetTimestamp();
        var stream = await streams.ResolveForDataAsync(ctx.Input, ctx.CancellationToken);
        if (ctx.GetString("SequenceNumberForOrdering") is { } ordering && !SequenceNumbers.TryParse(ordering, out _, out _))
        {
            throw KinesisException.InvalidArgument(
                $"ExclusiveMinimumSequenceNumber {ordering} used in PutRecord on stream {stream.StreamName} under account {streams.AccountId} is invalid.");
        }

        var entries = new AppendEntry[1];
        var partitionKey = ctx.GetString("PartitionKey");
        var data = ctx.Input.GetProperty("Data").GetBytesFromBase64();
        var pkBytes = PartitionKeyBytes(stream, partitionKey, "partitionKey");
        CheckRecordSize(stream, data.Length, pkBytes.Length);
        var open = streams.OpenShards(stream);
        var hashKeys = new[] { HashKeyOf(stream, ctx.Input, partitionKey) };
        var routed = StreamService.RouteToShard(open, hashKeys[0]);
        var metrics = streams.Metrics?.For(stream.StreamName);
        try
        {
            limits?.AdmitWrite(stream, routed, data.Length + pkBytes.Length, ctx.NowMs);
        }
        catch (KinesisException e) when (metrics is not null && e.ErrorType == "ProvisionedThroughputExceededException")
        {
            metrics.PutRecord(stream, routed, 0, 0, throttled: true);
            throw;
        }

        entries[0] = new AppendEntry(routed, pkBytes, data);

        var results = new AppendedRecord[1];
        await AppendAsync(stream, entries, hashKeys, results, ctx.CancellationToken);
        int shard = entries[0].ShardIndex;
        metrics?.PutRecord(stream, shard, data.Length + pkBytes.Length, ElapsedMs(started), throttled: false);

        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteString("ShardId", ShardIds.Format(shard));
        w.WriteString("SequenceNumber", SequenceNumbers.Format(shard, results[0].Position));
        WriteEncryptionType(w, stream);
        w.WriteEndObject();
    }

    private async ValueTask PutRecordsAsync(OperationContext ctx)
    {
        long started = Stopwatch.GetTimestamp();
        var stream = await streams.ResolveForDataAsync(ctx.Input, ctx.CancellationToken);
        var records = ctx.Input.GetProperty("Records");
        int count = records.GetArrayLength();
        var entries = ArrayPool<AppendEntry>.Shared.Rent(count);
        var results = ArrayPool<AppendedRecord>.Shared.Rent(count);
        bool[]? rejected = null;
        AppendEntry[]? admitted = null;
        var hashKeys = ArrayPool<UInt128>.Shared.Rent(count);
        // Every record's decoded data and partition key share one pooled slab: decoded base64 and UTF-8 keys are
        // never longer than their JSON text, so the raw Records array bounds it. The log copies entries before it
        // acknowledges, so the slab is free again once the append returns.
        var slab = ArrayPool<byte>.Shared.Rent(JsonMarshal.GetRawUtf8Value(records).Length);
        try
        {
            var open = streams.OpenShards(stream);
            long total = 0;
            int i = 0;
            int used = 0;
            foreach (var record in records.EnumerateArray())
            {
                bool hasKey = record.TryGetProperty("PartitionKey", out var pk) && pk.ValueKind == JsonValueKind.String;
                if (!hasKey)
                {
                    PartitionKeyBytes(stream, null, $"records.{i + 1}.member.partitionKey"); // throws unless AUTO
                }

                var pkBytes = hasKey ? CopyUtf8String(pk, slab, ref used) : ReadOnlyMemory<byte>.Empty;
                var data = DecodeBase64(record.GetProperty("Data"), slab, ref used);
                CheckRecordSize(stream, data.Length, pkBytes.Length);
                total += data.Length + pkBytes.Length;
                hashKeys[i] = stream.RecordDistributionStrategy == StreamSettingsOperations.Auto
                    ? HashKeyOf(stream, record, null)
                    : HashKeyOf(record, pkBytes.Span);
                entries[i] = new AppendEntry(StreamService.RouteToShard(open, hashKeys[i]), pkBytes, data);
                i++;
            }

            // AWS documents 10 MiB for the whole request; a stream's records may be that large, never larger.
            long maxTotal = Math.Max(MaxPutRecordsBytes, stream.MaxRecordSizeInKiB * 1024L);
            if (total > maxTotal)
            {
                throw KinesisException.InvalidArgument($"Records size exceeds {maxTotal / (1024 * 1024)} MB limit");
            }

            // --enforce-limits: entries over their shard's budget fail on their own; the rest are written.
            var toAppend = entries;
            int appendCount = count;
            int rejectedCount = 0;
            if (limits is not null)
            {
                rejected = ArrayPool<bool>.Shared.Rent(count);
                rejectedCount = limits.AdmitWrites(stream, entries.AsSpan(0, count), rejected.AsSpan(0, count), ctx.NowMs);
                if (rejectedCount > 0)
                {
                    admitted = ArrayPool<AppendEntry>.Shared.Rent(count);
                    appendCount = 0;
                    for (int j = 0; j < count; j++)
                    {
                        if (!rejected[j])
                        {
                            hashKeys[appendCount] = hashKeys[j]; // in place: appendCount <= j
                            admitted[appendCount++] = entries[j];
                        }
                    }

                    toAppend = admitted;
                }
            }

            bool failed = false;
            try
            {
                if (appendCount > 0)
                {
                    await AppendAsync(stream, toAppend.AsMemory(0, appendCount), hashKeys.AsMemory(0, appendCount), results.AsMemory(0, appendCount), ctx.CancellationToken);
                }
            }
            catch (IOException)
            {
                // Nothing of this call was acknowledged; AWS reports such failures per entry so clients retry them.
                failed = true;
            }

            var w = ctx.Output;
            w.WriteStartObject();
            w.WriteNumber("FailedRecordCount", failed ? count : rejectedCount);
            w.WriteStartArray("Records");
            int lastShard = -1;
            JsonEncodedText lastShardId = default;
            var sequenceNumber = new byte[SequenceNumbers.Length]; // one per call, not one string per record
            var metrics = streams.Metrics?.For(stream.StreamName);
            long writtenBytes = 0;
            for (int j = 0, k = 0; j < count; j++)
            {
                w.WriteStartObject();
                if (rejected is not null && rejected[j])
                {
                    w.WriteString("ErrorCode", "ProvisionedThroughputExceededException");
                    w.WriteString("ErrorMessage", limits!.WriteRejectedMessage(stream, entries[j].ShardIndex));
                }
                else if (failed)
                {
                    w.WriteString("ErrorCode", "InternalFailure");
                    w.WriteString("ErrorMessage", "Internal service failure.");
                }
                else
                {
                    // toAppend[k] carries the shard the record was finally written to (re-routed on resharding).
                    int shard = toAppend[k].ShardIndex;
                    if (metrics is not null)
                    {
                        int bytes = toAppend[k].Data.Length + toAppend[k].PartitionKey.Length;
                        writtenBytes += bytes;
                        if (metrics.Shard(stream, shard) is { } shardMetrics)
                        {
                            shardMetrics.Record(stream, "IncomingBytes", bytes);
                            shardMetrics.Record(stream, "IncomingRecords", 1);
                        }
                    }

                    w.WriteString(SequenceNumberName, SequenceNumbers.FormatUtf8(shard, results[k++].Position, sequenceNumber));
                    if (shard != lastShard)
                    {
                        lastShard = shard;
                        lastShardId = JsonEncodedText.Encode(ShardIds.Format(shard));
                    }

                    w.WriteString(ShardIdName, lastShardId);
                }

                w.WriteEndObject();
            }

            w.WriteEndArray();
            WriteEncryptionType(w, stream);
            w.WriteEndObject();
            if (metrics is not null)
            {
                if (rejected is not null && stream.ShardLevelMetrics.Count > 0)
                {
                    for (int j = 0; j < count; j++)
                    {
                        if (rejected[j])
                        {
                            metrics.Shard(stream, entries[j].ShardIndex)!.Record(stream, "WriteProvisionedThroughputExceeded", 1);
                        }
                    }
                }

                metrics.PutRecords(count, failed ? 0 : appendCount, rejectedCount, writtenBytes, ElapsedMs(started));
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(slab);
            ArrayPool<AppendEntry>.Shared.Return(entries, clearArray: true);
            ArrayPool<AppendedRecord>.Shared.Return(results);
            ArrayPool<UInt128>.Shared.Return(hashKeys);
            if (rejected is not null)
            {
                ArrayPool<bool>.Shared.Return(rejected);
            }

            if (admitted is not null)
            {
                ArrayPool<AppendEntry>.Shared.Return(admitted, clearArray: true);
            }
        }
    }

    /// <summary>Appends; when resharding sealed a shard between routing and writing, re-routes the entries by the
    /// current shard map and tries again (a failed append wrote nothing, so nothing is duplicated or lost).</summary>
    private async ValueTask AppendAsync(StreamDescription stream, Memory<AppendEntry> entries, ReadOnlyMemory<UInt128> hashKeys, Memory<AppendedRecord> results, CancellationToken ct)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                // The stream snapshot that routed the records also decides their encryption and the response's EncryptionType.
                var keyId = stream.EncryptionType == "KMS" ? stream.ResolvedKeyId : null;
                await streams.Records.AppendAsync(stream.StreamId, entries, results, keyId, ct);
                return;
            }
            catch (EncryptionKeyUnavailableException ex)
            {
                throw KeyUnavailable(ex);
            }
            catch (ShardUnavailableException)
            {
                var current = await streams.FindAsync(stream.StreamName, ct);
                if (current is null || current.StreamId != stream.StreamId)
                {
                    throw streams.StreamNotFound(stream.StreamName);
                }

                if (attempt == MaxRerouteAttempts)
                {
                    throw KinesisException.InternalFailure("The shard was closed while the request was in flight; retry.");
                }

                var open = streams.OpenShards(current);
                var e = entries.Span;
                var h = hashKeys.Span;
                for (int i = 0; i < e.Length; i++)
                {
                    e[i] = e[i] with { ShardIndex = StreamService.RouteToShard(open, h[i]) };
                }

                stream = current;
            }
        }
    }

    private void CheckRecordSize(StreamDescription stream, int dataLength, int partitionKeyLength)
    {
        long max = stream.MaxRecordSizeInKiB * 1024L;
        if (dataLength + partitionKeyLength > max)
        {
            throw KinesisException.InvalidArgument(
                $"Record size {dataLength + partitionKeyLength} bytes (data and partition key) exceeds the maximum record size of {max} bytes for stream {stream.StreamName}.");
        }
    }

    /// <summary>The partition key's bytes; with the AUTO strategy it may be absent (stored empty, never routed on).</summary>
    private static byte[] PartitionKeyBytes(StreamDescription stream, string? partitionKey, string path)
    {
        if (partitionKey is not null)
        {
            return Encoding.UTF8.GetBytes(partitionKey);
        }

        if (stream.RecordDistributionStrategy == StreamSettingsOperations.Auto)
        {
            return [];
        }

        // Required unless the stream spreads records itself: the model's own wording for a missing member.
        throw KinesisException.Validation($"1 validation error detected: Value null at '{path}' failed to satisfy constraint: Member must not be null");
    }

    private static UInt128 HashKeyOf(StreamDescription stream, JsonElement record, string? partitionKey)
    {
        if (stream.RecordDistributionStrategy == StreamSettingsOperations.Auto)
        {
            // AUTO ignores PartitionKey and ExplicitHashKey: a uniformly random hash key spreads records evenly.
            Span<byte> random = stackalloc byte[16];
            Random.Shared.NextBytes(random);
            return System.Buffers.Binary.BinaryPrimitives.ReadUInt128BigEndian(random);
        }

        return HashKeyOf(record, partitionKey!);
    }

    private static UInt128 HashKeyOf(JsonElement record, string partitionKey) =>
        TryExplicitHashKey(record, out var explicitKey) ? explicitKey : HashKeys.FromPartitionKey(partitionKey);

    private static UInt128 HashKeyOf(JsonElement record, ReadOnlySpan<byte> utf8PartitionKey) =>
        TryExplicitHashKey(record, out var explicitKey) ? explicitKey : HashKeys.FromUtf8PartitionKey(utf8PartitionKey);

    private static bool TryExplicitHashKey(JsonElement record, out UInt128 explicitKey)
    {
        explicitKey = default;
        if (!record.TryGetProperty("ExplicitHashKey", out var e) || e.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        var text = e.GetString()!;
        if (!HashKeys.TryParse(text, out explicitKey))
        {
            throw KinesisException.InvalidArgument(
                $"Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {text}");
        }

        return true;
    }

    /// <summary>The raw UTF-8 of a JSON string without its quotes, when it holds no escape sequence.</summary>
    private static bool TryRawString(JsonElement value, out ReadOnlySpan<byte> utf8)
    {
        var raw = JsonMarshal.GetRawUtf8Value(value);
        utf8 = raw.Length >= 2 ? raw[1..^1] : default;
        return raw.Length >= 2 && utf8.IndexOf((byte)'\\') < 0;
    }

    /// <summary>A JSON string's UTF-8 bytes, written into the slab.</summary>
    private static ReadOnlyMemory<byte> CopyUtf8String(JsonElement value, byte[] slab, ref int used)
    {
        int start = used;
        if (TryRawString(value, out var raw))
        {
            if (!System.Text.Unicode.Utf8.IsValid(raw))
            {
                // Copied as it is, so checked here: AWS's JSON parser refuses invalid UTF-8.
                throw KinesisException.Serialization(JsonText.UndecodableString);
            }

            raw.CopyTo(slab.AsSpan(used));
            used += raw.Length;
        }
        else
        {
            used += Encoding.UTF8.GetBytes(value.GetString()!, slab.AsSpan(used));
        }

        return slab.AsMemory(start, used - start);
    }

    /// <summary>A base64 JSON string (already checked by the model validation), decoded into the slab.</summary>
    private static ReadOnlyMemory<byte> DecodeBase64(JsonElement value, byte[] slab, ref int used)
    {
        if (TryRawString(value, out var raw)
            && Base64.DecodeFromUtf8(raw, slab.AsSpan(used), out _, out int written) == OperationStatus.Done)
        {
            used += written;
            return slab.AsMemory(used - written, written);
        }

        var bytes = value.GetBytesFromBase64();
        bytes.CopyTo(slab.AsSpan(used));
        used += bytes.Length;
        return slab.AsMemory(used - bytes.Length, bytes.Length);
    }

    private KinesisException KeyUnavailable(EncryptionKeyUnavailableException ex) =>
        keys?.KeyUnavailable(ex.KeyId) ?? KmsKeyStore.NotFound($"Key '{ex.KeyId}' does not exist");

    private static void WriteEncryptionType(Utf8JsonWriter w, StreamDescription stream)
    {
        if (stream.EncryptionType != "NONE")
        {
            w.WriteString("EncryptionType", stream.EncryptionType);
        }
    }

    private async ValueTask GetRecordsAsync(OperationContext ctx)
    {
        long started = Stopwatch.GetTimestamp();
        var token = ctx.GetString("ShardIterator")!;
        if (!streams.Tokens.TryDecodeIterator(token, out var it) || it.IssuedAtMs > ctx.NowMs + 60_000)
        {
            throw KinesisException.InvalidArgument("Invalid ShardIterator.");
        }

        if (ctx.NowMs - it.IssuedAtMs > IteratorLifetimeMs)
        {
            throw KinesisException.ExpiredIterator(
                $"Iterator expired. The iterator was created at time {AmzTime(it.IssuedAtMs)} while right now it is {AmzTime(ctx.NowMs)} " +
                $"which is further in the future than the tolerated delay of {IteratorLifetimeMs} milliseconds.");
        }

        var shardId = ShardIds.Format(it.ShardIndex);
        var stream = await streams.FindAsync(it.StreamName, ctx.CancellationToken);
        if (stream is null || stream.StreamId != it.StreamId || StreamService.FindShard(stream, it.ShardIndex) is not { } shard)
        {
            throw KinesisException.ResourceNotFound($"Shard {shardId} in stream {it.StreamName} under account {streams.AccountId} does not exist");
        }

        if (ctx.GetString("StreamARN") is { } arn && streams.StreamNameFromArn(arn) != it.StreamName)
        {
            throw KinesisException.InvalidArgument($"StreamARN {arn} does not match the stream of the ShardIterator.");
        }

        var metrics = streams.Metrics?.For(stream.StreamName);
        try
        {
            limits?.BeforeGetRecords(stream, it.ShardIndex, ctx.NowMs);
        }
        catch (KinesisException e) when (metrics is not null && e.ErrorType == "ProvisionedThroughputExceededException")
        {
            metrics.GetRecords(stream, it.ShardIndex, 0, 0, 0, 0, throttled: true);
            throw;
        }

        int limit = ctx.GetInt32("Limit") ?? GetRecordsDefaultLimit;
        var cutoff = streams.RetentionCutoffMs(stream, ctx.NowMs);
        ShardReadResult read;
        try
        {
            read = await streams.Records.ReadAsync(new ShardKey(stream.StreamId, it.ShardIndex), it.Position, limit, GetRecordsMaxBytes, cutoff, ctx.CancellationToken);
        }
        catch (EncryptionKeyUnavailableException ex)
        {
            throw KeyUnavailable(ex);
        }

        var w = ctx.Output;
        w.WriteStartObject();
        w.WriteStartArray("Records");
        long responseBytes = 0;
        var sequenceNumber = new byte[SequenceNumbers.Length]; // one per call, not one string per record
        foreach (var r in read.Records)
        {
            responseBytes += r.Data.Length + r.PartitionKey.Length;
            ShardJson.WriteRecord(w, stream, it.ShardIndex, r, sequenceNumber);
        }

        w.WriteEndArray();
        limits?.AfterGetRecords(stream, it.ShardIndex, responseBytes, ctx.NowMs);

        // As AWS: a call that returns records always hands out a NextShardIterator; the end of a closed shard (no
        // NextShardIterator, ChildShards) is the answer of the call after its last records.
        if (read.ShardEnded && read.Records.Count == 0)
        {
            // The children were stored before the seal, but possibly after `stream` was read.
            var latest = await streams.FindAsync(it.StreamName, ctx.CancellationToken);
            if (latest is not null && latest.StreamId == stream.StreamId)
            {
                stream = latest;
            }

            w.WriteNumber("MillisBehindLatest", 0);
            w.WriteStartArray("ChildShards");
            foreach (var child in stream.Shards)
            {
                if (child.ParentShardIndex == shard.ShardIndex || child.AdjacentParentShardIndex == shard.ShardIndex)
                {
                    ShardJson.WriteChildShard(w, child);
                }
            }

            w.WriteEndArray();
        }
        else
        {
            var next = new ShardIteratorState(it.StreamName, it.StreamId, it.ShardIndex, read.NextPosition, ctx.NowMs);
            w.WriteString("NextShardIterator", streams.Tokens.EncodeIterator(next));
            long behind = 0;
            if (read.NextPosition < read.TipPosition)
            {
                long lastArrival = read.Records.Count > 0 ? read.Records[^1].ArrivalMs : ctx.NowMs;
                behind = Math.Max(0, Math.Max(read.TipArrivalMs, ctx.NowMs) - lastArrival);
            }

            w.WriteNumber("MillisBehindLatest", behind);
        }

        w.WriteEndObject();
        if (metrics is not null)
        {
            // The age of the last record returned; caught up (nothing returned at the tip) is 0.
            long age = read.Records.Count > 0 ? Math.Max(0, ctx.NowMs - read.Records[^1].ArrivalMs) : 0;
            metrics.GetRecords(stream, it.ShardIndex, read.Records.Count, responseBytes, age, ElapsedMs(started), throttled: false);
        }
    }

    /// <summary>AWS's time format in iterator messages, e.g. <c>Thu Jan 22 01:22:02 UTC 2015</c>.</summary>
    private static string AmzTime(long epochMs) =>
        DateTimeOffset.FromUnixTimeMilliseconds(epochMs).UtcDateTime.ToString("ddd MMM dd HH:mm:ss 'UTC' yyyy", CultureInfo.InvariantCulture);
}
