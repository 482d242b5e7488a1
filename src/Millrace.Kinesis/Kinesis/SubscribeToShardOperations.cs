using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Millrace.Protocol;
using Millrace.Protocol.EventStream;
using Millrace.Kinesis.Encryption;
using Millrace.Storage;

namespace Millrace.Kinesis;

/// <summary>
/// SubscribeToShard: enhanced fan-out over an <c>application/vnd.amazon.eventstream</c> response. Records are
/// pushed: the subscription sleeps in <see cref="IRecordLog.WaitForDataAsync"/> and an append wakes it. Each event
/// is flushed through the response's PipeWriter before the next read, so a slow subscriber holds at most one
/// event (and HTTP/2's flow-control window) in server memory. When the server stops (<c>stopping</c>), open
/// subscriptions end cleanly instead of holding up shutdown.
/// </summary>
public sealed class SubscribeToShardOperations(
    StreamService streams, KmsKeyStore? keys, ILogger<SubscribeToShardOperations> logger, CancellationToken stopping = default)
{
    /// <summary>Records of one event are capped like a GetRecords page, but smaller so delivery stays smooth.</summary>
    private const int MaxRecordsPerEvent = 10_000;
    private const long MaxBytesPerEvent = 1024 * 1024;

    private static readonly EventStreamHeader MessageTypeEvent = EventStreamHeader.String(":message-type", "event");
    private static readonly EventStreamHeader MessageTypeException = EventStreamHeader.String(":message-type", "exception");
    private static readonly EventStreamHeader ContentTypeJson = EventStreamHeader.String(":content-type", "application/json");
    private static readonly EventStreamHeader[] InitialResponseHeaders =
        [EventStreamHeader.String(":event-type", "initial-response"), ContentTypeJson, MessageTypeEvent];
    private static readonly EventStreamHeader[] SubscribeToShardEventHeaders =
        [EventStreamHeader.String(":event-type", "SubscribeToShardEvent"), ContentTypeJson, MessageTypeEvent];

    private readonly ConcurrentDictionary<(string ConsumerArn, int Shard), Subscription> _active = new();

    /// <summary>How long a subscription lasts (AWS: 5 minutes).</summary>
    public TimeSpan Lifetime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>The longest gap between events when there is no data.</summary>
    public TimeSpan HeartbeatInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A new subscription for the same consumer and shard within this time of the last one gets
    /// ResourceInUseException; after it, the new one takes over.</summary>
    public TimeSpan TakeoverDelay { get; init; } = TimeSpan.FromSeconds(5);

    public void Register(IDictionary<string, KinesisOperation> operations) =>
        operations["SubscribeToShard"] = SubscribeToShardAsync;

    private sealed class Subscription(long startedAtMs)
    {
        public long StartedAtMs { get; } = startedAtMs;

        public CancellationTokenSource Superseded { get; } = new();
    }

    private async ValueTask SubscribeToShardAsync(OperationContext ctx)
    {
        var consumerArn = ctx.GetString("ConsumerARN")!;
        var shardIdText = ctx.GetString("ShardId")!;
        var starting = ctx.GetObject("StartingPosition")!.Value;
        var type = starting.GetProperty("Type").GetString()!;
        var sequence = starting.TryGetProperty("SequenceNumber", out var s) && s.ValueKind == JsonValueKind.String ? s.GetString() : null;
        var timestampMs = OperationContext.GetTimestampMs(starting, "Timestamp");

        var (stream, consumer) = await streams.ResolveConsumerAsync(consumerArn, ctx.CancellationToken);
        if (consumer.Status != StreamStatus.Active)
        {
            throw ConsumerOperations.NotActive(streams, stream, consumer);
        }

        if (!ShardIds.TryParse(shardIdText, out var shardIndex) ||
            StreamService.FindShard(stream, shardIndex) is not { } shard ||
            !streams.IsShardVisible(stream, shard, ctx.NowMs))
        {
            throw KinesisException.ResourceNotFound(
                $"Shard {shardIdText} in stream {stream.StreamName} under account {streams.AccountId} does not exist");
        }

        var key = new ShardKey(stream.StreamId, shardIndex);
        var cutoff = streams.RetentionCutoffMs(stream, ctx.NowMs);
        ulong position = await StartingPositionAsync(stream, shard, key, type, sequence, timestampMs, cutoff, ctx.CancellationToken);
        if (ctx.GetBoolean("DryRun") == true)
        {
            throw new KinesisException("DryRunOperationException", "Request would have succeeded, but DryRun flag is set.");
        }

        var streamName = stream.StreamName;
        ctx.RespondWithStream((response, ct) => StreamAsync(response, consumerArn, streamName, shard, position, ct));
    }

    private async ValueTask<ulong> StartingPositionAsync(
        StreamDescription stream, ShardDescription shard, ShardKey key, string type, string? sequence, long? timestampMs, long cutoff, CancellationToken ct)
    {
        var shardId = ShardIds.Format(shard.ShardIndex);
        switch (type)
        {
            case "AT_SEQUENCE_NUMBER" or "AFTER_SEQUENCE_NUMBER":
                if (sequence is null)
                {
                    throw KinesisException.InvalidArgument($"StartingPosition.SequenceNumber is required for StartingPosition.Type {type}.");
                }

                if (!SequenceNumbers.TryParse(sequence, out var encodedShard, out var position) || encodedShard != shard.ShardIndex ||
                    position < shard.StartingPosition || (shard.Closed && shard.EndingPosition is { } end && position > end + 1))
                {
                    throw KinesisException.InvalidArgument(
                        $"StartingSequenceNumber {sequence} used in SubscribeToShard on shard {shardId} in stream {stream.StreamName} under account {streams.AccountId} is invalid.");
                }

                return type == "AFTER_SEQUENCE_NUMBER" ? position + 1 : position;
            case "TRIM_HORIZON" or "LATEST":
                var positions = await streams.Records.GetPositionsAsync(key, cutoff, ct);
                return type == "TRIM_HORIZON" ? positions.TrimHorizon : positions.TipPosition;
            default: // AT_TIMESTAMP
                if (timestampMs is null)
                {
                    throw KinesisException.InvalidArgument("StartingPosition.Timestamp is required for StartingPosition.Type AT_TIMESTAMP.");
                }

                return await streams.Records.FindPositionByTimestampAsync(key, timestampMs.Value, cutoff, ct);
        }
    }

    private async Task StreamAsync(HttpResponse response, string consumerArn, string streamName, ShardDescription shard, ulong position, CancellationToken aborted)
    {
        response.StatusCode = 200;
        response.ContentType = EventStreamCodec.ContentType;
        var output = response.BodyWriter;
        var clock = streams.Options.Clock;
        long startedMs = clock.GetUtcNow().ToUnixTimeMilliseconds();

        // The 5-second rule: a recent subscription keeps the slot; an older one is ended and replaced.
        var slot = (consumerArn, shard.ShardIndex);
        var mine = new Subscription(startedMs);
        var metrics = streams.Metrics?.For(streamName).Consumer(ConsumerNameOf(consumerArn));
        while (true)
        {
            if (_active.TryGetValue(slot, out var current))
            {
                if (startedMs - current.StartedAtMs < (long)TakeoverDelay.TotalMilliseconds)
                {
                    metrics?.RateExceeded.Record(1);
                    metrics?.Success.Record(0);
                    await WriteExceptionAsync(output, "ResourceInUseException",
                        $"Another active subscription exists for consumer {consumerArn} and shard {ShardIds.Format(shard.ShardIndex)}.", aborted);
                    return;
                }

                if (!_active.TryUpdate(slot, mine, current))
                {
                    continue;
                }

                await current.Superseded.CancelAsync();
                break;
            }

            if (_active.TryAdd(slot, mine))
            {
                break;
            }
        }

        using var session = CancellationTokenSource.CreateLinkedTokenSource(aborted, mine.Superseded.Token, stopping);
        metrics?.RateExceeded.Record(0);
        metrics?.Success.Record(1);
        try
        {
            await RunAsync(output, consumerArn, streamName, shard, position, startedMs, metrics, session.Token);
        }
        catch (OperationCanceledException) when (session.IsCancellationRequested)
        {
            // The client went away, a newer subscription took over or the server is stopping: the stream just ends.
        }
        catch (KinesisException ex) when (!aborted.IsCancellationRequested)
        {
            await WriteExceptionAsync(output, ex.ErrorType, ex.ErrorMessage, aborted);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException && !aborted.IsCancellationRequested)
        {
            logger.LogError(ex, "SubscribeToShard failed");
            await WriteExceptionAsync(output, "InternalFailure", "Internal service failure.", aborted);
        }
        finally
        {
            _active.TryRemove(new KeyValuePair<(string, int), Subscription>(slot, mine));
            mine.Superseded.Dispose();
        }
    }

    /// <summary>The consumer's name in its ARN: <c>arn:aws:kinesis:…:stream/S/consumer/NAME:CREATION</c>.</summary>
    private static string ConsumerNameOf(string consumerArn)
    {
        int at = consumerArn.LastIndexOf("/consumer/", StringComparison.Ordinal);
        var rest = at < 0 ? consumerArn : consumerArn[(at + "/consumer/".Length)..];
        int colon = rest.LastIndexOf(':');
        return colon < 0 ? rest : rest[..colon];
    }

    private async Task RunAsync(PipeWriter output, string consumerArn, string streamName, ShardDescription shard, ulong position, long startedMs,
        ConsumerMetrics? metrics, CancellationToken ct)
    {
        var clock = streams.Options.Clock;
        long endMs = startedMs + (long)Lifetime.TotalMilliseconds;
        long heartbeatMs = (long)HeartbeatInterval.TotalMilliseconds;
        var (stream, _) = await streams.ResolveConsumerAsync(consumerArn, ct);
        var key = new ShardKey(stream.StreamId, shard.ShardIndex);

        WriteEvent(output, InitialResponseHeaders, "{}"u8);
        await FlushAsync(output, ct);

        // ContinuationSequenceNumber when nothing was delivered yet: just before where reading continues.
        ulong lastDelivered = Math.Max(position, shard.StartingPosition + 1) - 1;
        using var payload = new PooledBufferWriter();
        while (true)
        {
            long nowMs = clock.GetUtcNow().ToUnixTimeMilliseconds();
            if (nowMs >= endMs)
            {
                return; // the 5-minute lifetime: the client subscribes again
            }

            ShardReadResult read;
            try
            {
                read = await streams.Records.ReadAsync(key, position, MaxRecordsPerEvent, MaxBytesPerEvent, streams.RetentionCutoffMs(stream, nowMs), ct);
            }
            catch (EncryptionKeyUnavailableException ex)
            {
                throw keys?.KeyUnavailable(ex.KeyId) ?? KmsKeyStore.NotFound($"Key '{ex.KeyId}' does not exist");
            }
            catch (ShardUnavailableException)
            {
                throw streams.StreamNotFound(streamName);
            }

            if (read.Records.Count > 0)
            {
                lastDelivered = read.Records[^1].Position;
                position = read.NextPosition;
                long behind = WritePayload(payload, stream, shard.ShardIndex, read, lastDelivered, nowMs, childShardsOf: null);
                WriteEvent(output, SubscribeToShardEventHeaders, payload.WrittenMemory.Span);
                await FlushAsync(output, ct);
                if (metrics is not null)
                {
                    long bytes = 0;
                    foreach (var r in read.Records)
                    {
                        bytes += r.Data.Length + r.PartitionKey.Length;
                    }

                    metrics.Event(read.Records.Count, bytes, behind);
                }

                continue;
            }

            if (read.ShardEnded)
            {
                // The end of a closed shard: one event naming the children, without a continuation, then the end.
                stream = await streams.FindAsync(streamName, ct) is { } latest && latest.StreamId == stream.StreamId ? latest : stream;
                WritePayload(payload, stream, shard.ShardIndex, read, null, nowMs, childShardsOf: shard);
                WriteEvent(output, SubscribeToShardEventHeaders, payload.WrittenMemory.Span);
                await FlushAsync(output, ct);
                return;
            }

            // Nothing to send: sleep until an append (or the seal) wakes us, or the heartbeat is due.
            position = read.NextPosition;
            lastDelivered = Math.Max(lastDelivered, Math.Max(position, shard.StartingPosition + 1) - 1);
            long waitMs = Math.Min(heartbeatMs, endMs - nowMs);
            bool woken;
            using (var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(Math.Max(1, waitMs)), clock))
            using (var wait = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token))
            {
                try
                {
                    await streams.Records.WaitForDataAsync(key, position, wait.Token);
                    woken = true;
                }
                catch (OperationCanceledException) when (!ct.IsCancellationRequested)
                {
                    woken = false;
                }
                catch (ShardUnavailableException)
                {
                    throw streams.StreamNotFound(streamName);
                }
            }

            if (!woken)
            {
                if (clock.GetUtcNow().ToUnixTimeMilliseconds() >= endMs)
                {
                    return;
                }

                // A heartbeat; it also notices a deregistered consumer or deleted stream.
                (stream, _) = await streams.ResolveConsumerAsync(consumerArn, ct);
                long behind = WritePayload(payload, stream, shard.ShardIndex, read, lastDelivered, nowMs, childShardsOf: null);
                WriteEvent(output, SubscribeToShardEventHeaders, payload.WrittenMemory.Span);
                await FlushAsync(output, ct);
                metrics?.Event(0, 0, behind);
            }
        }
    }

    /// <summary>Writes one event's payload; returns its MillisBehindLatest.</summary>
    private static long WritePayload(
        PooledBufferWriter payload, StreamDescription stream, int shardIndex, ShardReadResult read, ulong? continuation, long nowMs, ShardDescription? childShardsOf)
    {
        payload.Reset();
        using var w = new Utf8JsonWriter(payload);
        w.WriteStartObject();
        w.WriteStartArray("Records");
        Span<byte> sequenceNumber = stackalloc byte[SequenceNumbers.Length];
        foreach (var r in read.Records)
        {
            ShardJson.WriteRecord(w, stream, shardIndex, r, sequenceNumber);
        }

        w.WriteEndArray();
        if (continuation is { } c)
        {
            w.WriteString("ContinuationSequenceNumber", SequenceNumbers.Format(shardIndex, c));
        }

        long behind = 0;
        if (read.NextPosition < read.TipPosition)
        {
            long lastArrival = read.Records.Count > 0 ? read.Records[^1].ArrivalMs : nowMs;
            behind = Math.Max(0, Math.Max(read.TipArrivalMs, nowMs) - lastArrival);
        }

        w.WriteNumber("MillisBehindLatest", behind);
        if (childShardsOf is not null)
        {
            w.WriteStartArray("ChildShards");
            foreach (var child in stream.Shards)
            {
                if (child.ParentShardIndex == childShardsOf.ShardIndex || child.AdjacentParentShardIndex == childShardsOf.ShardIndex)
                {
                    ShardJson.WriteChildShard(w, child);
                }
            }

            w.WriteEndArray();
        }

        w.WriteEndObject();
        return behind;
    }

    private static void WriteEvent(PipeWriter output, EventStreamHeader[] headers, ReadOnlySpan<byte> payload) =>
        EventStreamCodec.Write(output, headers, payload);

    private static async ValueTask FlushAsync(PipeWriter output, CancellationToken ct)
    {
        // Awaiting the flush is the back-pressure: a reader that stops draining stops the producer here.
        var result = await output.FlushAsync(ct);
        if (result.IsCanceled || result.IsCompleted)
        {
            throw new OperationCanceledException(ct);
        }
    }

    private static async Task WriteExceptionAsync(PipeWriter output, string type, string? message, CancellationToken ct)
    {
        using var payload = new PooledBufferWriter();
        using (var w = new Utf8JsonWriter(payload))
        {
            w.WriteStartObject();
            w.WriteString("message", message);
            w.WriteEndObject();
        }

        EventStreamCodec.Write(output,
            [EventStreamHeader.String(":exception-type", type), ContentTypeJson, MessageTypeException],
            payload.WrittenMemory.Span);
        try
        {
            await output.FlushAsync(ct);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
